// SPDX-License-Identifier: MIT
// parseSwitchConfig on arbitrary text. An accepted config must hold only values the model code
// can use, and must survive the round trip through switchConfigToJson (which is how training
// writes the config.json of every model it saves).
#include "fuzz_check.h"

#include "sida/config.h"
#include "sida/errors.h"

#include <cstdint>
#include <set>
#include <string>

namespace {

void checkUsable(const sida::SwitchConfig& c) {
    for (int64_t size :
         {c.vocab_size, c.d_model, c.d_kv, c.d_ff, c.num_layers, c.num_heads, c.num_experts,
          c.expert_capacity, c.relative_attention_num_buckets, c.relative_attention_max_distance})
        FUZZ_CHECK(size > 0, "sizes are positive");
    FUZZ_CHECK(c.num_sparse_encoder_layers >= 0 && c.num_sparse_encoder_layers <= c.num_layers,
               "sparse layer count within the encoder");
    FUZZ_CHECK(c.encoder_sparse_step >= 0 && c.encoder_sparse_step <= c.num_layers,
               "sparse step within the encoder");
    FUZZ_CHECK(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, "pad id inside the vocabulary");
    FUZZ_CHECK(c.eos_token_id >= 0 && c.eos_token_id < c.vocab_size, "eos id inside the vocabulary");
    FUZZ_CHECK(c.layer_norm_epsilon > 0, "epsilon positive");
    FUZZ_CHECK(c.dropout_rate >= 0 && c.dropout_rate < 1, "dropout in [0, 1)");
    FUZZ_CHECK(std::set<std::string>(c.id2label.begin(), c.id2label.end()).size() == c.id2label.size(),
               "label names are distinct");
    // isSparse on the first blocks (sparseBlocks() walks every layer, and the parser does not bound
    // num_layers: the loader refuses a config larger than its checkpoint before walking them).
    for (int64_t block = 0; block < c.num_layers && block < 64; ++block) (void)c.isSparse(block);
    (void)c.innerDim();
}

bool sameConfig(const sida::SwitchConfig& a, const sida::SwitchConfig& b) {
    return a.vocab_size == b.vocab_size && a.d_model == b.d_model && a.d_kv == b.d_kv && a.d_ff == b.d_ff &&
           a.num_layers == b.num_layers && a.num_heads == b.num_heads && a.num_experts == b.num_experts &&
           a.expert_capacity == b.expert_capacity &&
           a.num_sparse_encoder_layers == b.num_sparse_encoder_layers &&
           a.encoder_sparse_step == b.encoder_sparse_step && a.router_bias == b.router_bias &&
           a.router_jitter_noise == b.router_jitter_noise && a.router_dtype == b.router_dtype &&
           a.router_ignore_padding_tokens == b.router_ignore_padding_tokens &&
           a.relative_attention_num_buckets == b.relative_attention_num_buckets &&
           a.relative_attention_max_distance == b.relative_attention_max_distance &&
           a.dropout_rate == b.dropout_rate && a.layer_norm_epsilon == b.layer_norm_epsilon &&
           a.dense_act_fn == b.dense_act_fn && a.pad_token_id == b.pad_token_id &&
           a.eos_token_id == b.eos_token_id && a.torch_dtype == b.torch_dtype && a.id2label == b.id2label;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    sida::SwitchConfig config;
    try {
        config = sida::parseSwitchConfig(text, "fuzz/config.json");
    } catch (const sida::Error&) {
        return 0;
    }
    checkUsable(config);
    // What we write we must read back unchanged; a sida::Error here is a bug too.
    const sida::SwitchConfig reread = sida::parseSwitchConfig(sida::switchConfigToJson(config), "rewritten");
    FUZZ_CHECK(sameConfig(config, reread), "config.json round trip");
    return 0;
}
