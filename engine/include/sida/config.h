// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sida {

/// The fields of a Hugging Face SwitchTransformers `config.json` that shape the encoder, plus the
/// classifier labels. Names follow Hugging Face.
struct SwitchConfig {
    int64_t vocab_size = 32128;
    int64_t d_model = 768;
    int64_t d_kv = 64;
    int64_t d_ff = 2048;
    int64_t num_layers = 12;
    int64_t num_heads = 12;
    int64_t num_experts = 8;
    int64_t expert_capacity = 64;
    int64_t num_sparse_encoder_layers = 3;
    int64_t encoder_sparse_step = 4; ///< the JSON value when present, else derived (see isSparse)
    bool router_bias = false;
    double router_jitter_noise = 0.01;
    std::string router_dtype = "float32";
    bool router_ignore_padding_tokens = false; ///< stored by HF, never used in its forward pass
    int64_t relative_attention_num_buckets = 32;
    int64_t relative_attention_max_distance = 128;
    double dropout_rate = 0.1;
    double layer_norm_epsilon = 1e-6;
    std::string dense_act_fn = "relu"; ///< relu, gelu, gelu_new or silu
    int64_t pad_token_id = 0;
    int64_t eos_token_id = 1;
    std::string torch_dtype;           ///< the storage dtype the file declares, informative only
    std::vector<std::string> id2label; ///< label names by class id; empty when the config has none

    /// Hugging Face's rule: block i is sparse when step > 0 and (i % step == 1 or step == 1).
    bool isSparse(int64_t block) const;
    /// The indices of the sparse (MoE) blocks, in order.
    std::vector<int64_t> sparseBlocks() const;
    /// Query/key/value width: num_heads * d_kv (not always d_model).
    int64_t innerDim() const { return num_heads * d_kv; }
};

/// Parses config.json text. `source` names the file in error messages. Unknown keys are ignored
/// (HF configs carry decoder and generation fields); wrong types, impossible values, unsupported
/// features and contradictions between fields throw sida::Error naming the field.
SwitchConfig parseSwitchConfig(const std::string& jsonText, const std::string& source);

/// Reads and parses a config.json file.
SwitchConfig loadSwitchConfig(const std::filesystem::path& path);

/// Serialises a config as a Hugging Face-compatible config.json (encoder-only model).
std::string switchConfigToJson(const SwitchConfig& config);

} // namespace sida
