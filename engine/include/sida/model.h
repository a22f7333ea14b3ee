// SPDX-License-Identifier: MIT
#pragma once

#include "sida/config.h"
#include "sida/progress.h"
#include "sida/tokenizer.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sida {

/// How a model is loaded and run.
struct LoadOptions {
    std::string device = "auto";   ///< auto, cpu, cuda or cuda:N
    std::string dtype = "float32"; ///< compute dtype: float32 or bfloat16 (float16 is refused)
    int threads = 0;               ///< CPU threads for LibTorch; 0 = one per core
    std::string io = "pread";  ///< how experts are read from disk: pread, or uring (pread where unavailable)
    bool noDrop = false;       ///< ignore expert_capacity (no token is ever dropped)
    int64_t maxLength = 512;   ///< inputs are truncated to this many tokens
    bool loadPredictor = true; ///< load predictor.json/.safetensors when the folder has them
};

/// One input: a text, or a sentence pair.
struct TextInput {
    std::string text;
    std::optional<std::string> pair;
};

/// The result for one input: a label, or an error saying why this input has none.
struct Classification {
    std::string error; ///< empty on success
    int64_t label = -1;
    std::string labelName;
    double confidence = 0.0; ///< probability of the label
    std::vector<double> probabilities;
    int64_t tokens = 0; ///< tokens after truncation, </s> included
    bool truncated = false;
    bool ok() const { return error.empty(); }
};

/// The SiDA predictor shipped beside a model (predictor.json), if any.
struct PredictorInfo {
    bool present = false;
    int64_t hidden = 0;
    int64_t lstmLayers = 0;
    bool bidirectional = false;
    double devTop1 = 0.0; ///< hit rates recorded when it was trained (0 when unknown)
    double devTop3 = 0.0;
};

/// What a loaded model is.
struct ModelInfo {
    std::filesystem::path path;
    SwitchConfig config;
    std::vector<std::string> labels; ///< empty: the checkpoint has no classifier head
    std::vector<int64_t> moeBlocks;  ///< encoder blocks that are MoE layers
    int64_t parameters = 0;          ///< every loaded parameter (embedding counted once)
    int64_t expertParameters = 0;
    int64_t expertBytes = 0;                 ///< one expert (wi + wo) in the compute dtype
    int64_t totalExpertBytes = 0;            ///< all experts of all MoE layers
    int64_t nonExpertBytes = 0;              ///< everything else, in the compute dtype
    uint64_t checkpointBytes = 0;            ///< tensor bytes on disk
    int checkpointFiles = 1;                 ///< shards
    std::map<std::string, int> storedDTypes; ///< dtype name -> tensors stored in it
    std::string computeDType;
    std::string device;
    int64_t tokenizerPieces = 0;
    int64_t maxLength = 512;
    PredictorInfo predictor;
    std::string trainingRecord; ///< training.json's text when the folder has one
};

/// The encoder's internals for one input, for parity checks and teaching views.
struct EncoderDump {
    std::vector<int64_t> ids;
    int64_t dModel = 0;
    std::vector<float> hidden;                    ///< [tokens, d_model] last_hidden_state
    std::vector<std::vector<float>> routerLogits; ///< per MoE layer: [tokens, experts]
    std::vector<std::vector<int64_t>> experts;    ///< per MoE layer: the expert of each token
    std::vector<std::vector<bool>> dropped;       ///< per MoE layer: lost to the capacity limit
    std::vector<double> probabilities;            ///< classifier output; empty without a head
};

/// A loaded Switch Transformers classifier: weights, tokenizer, labels.
class Model {
public:
    /// Loads a Hugging Face model folder (config.json, model.safetensors or a sharded index,
    /// spiece.model). Every problem is a sida::Error naming the file, tensor or field.
    static std::shared_ptr<Model> load(const std::filesystem::path& dir, const LoadOptions& options = {},
                                       const ProgressCallback& progress = {}, const CancelToken& cancel = {});
    ~Model();

    const ModelInfo& info() const;
    const Tokenizer& tokenizer() const;

    /// Classifies inputs in batches of `batchSize`, keeping their order. An input that cannot be
    /// classified (empty, invalid UTF-8) gets an error in its slot; the others still run.
    std::vector<Classification> classify(const std::vector<TextInput>& inputs, int batchSize = 16) const;

    /// Runs the encoder on token id sequences, right-padded together into one batch, and returns
    /// each sequence's internals (padding excluded).
    std::vector<EncoderDump> inspect(const std::vector<std::vector<int64_t>>& sequences) const;

    struct Impl;
    Impl& impl() const { return *impl_; }

private:
    explicit Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// The bundled demo model's folder (installed or in the source tree); empty when absent.
std::filesystem::path defaultModelDir();

/// Validates one input: an error message for empty or non-UTF-8 text, or an empty string.
std::string validateInput(const TextInput& input);

} // namespace sida
