// SPDX-License-Identifier: MIT
#pragma once

#include "sida/dataset.h"
#include "sida/progress.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sida {

/// The shape of a Switch encoder classifier trained from scratch (Hugging Face config names).
struct ArchitectureOptions {
    int64_t dModel = 256;
    int64_t numLayers = 4;
    int64_t numHeads = 4;
    int64_t dKv = 64;
    int64_t dFf = 320;
    int64_t numExperts = 32;
    int64_t sparseStep = 2; ///< MoE at blocks 1, 3, ... (1: every block)
    int64_t expertCapacity = 64;
    int64_t vocabPieces = 8000; ///< SentencePiece pieces when a tokenizer is trained
    /// Train the tokenizer with case folding in its normalizer (SentencePiece's nmt_nfkc_cf), for
    /// lowercased data such as SST-2: "Great" then reads like "great" instead of <unk>. The rule
    /// lives in spiece.model, so Hugging Face's T5Tokenizer applies it too.
    bool caseFold = false;
};

/// How to optimise. Defaults follow the recipe in docs/MODELS.md.
struct OptimizerOptions {
    int epochs = 3;
    int batchSize = 64;
    double learningRate = 1e-3;
    double weightDecay = 0.01;
    int64_t warmupSteps = 300; ///< linear warm-up, then linear decay to zero
    double clipNorm = 1.0;
    double dropout = 0.1;
    double routerJitter = 0.01;
    double loadBalanceWeight = 0.01; ///< Switch's auxiliary load-balancing loss
    double zLossWeight = 0.001;      ///< router z-loss
    /// Weight of the token-routing aid: each MoE layer's router is also trained (cross-entropy)
    /// towards a fixed token -> expert assignment that balances token frequency over the experts.
    /// Routes then depend mostly on the token, as in pretrained Switch models, which makes them
    /// predictable; no expert is left without tokens. Training-time only: nothing extra is saved,
    /// the router stays a Hugging Face router. 0 turns it off.
    double tokenRoutingWeight = 0.0;
    bool headOnly = false; ///< fine-tuning: train only the classifier head
};

/// One epoch's line.
struct EpochMetrics {
    int epoch = 0;
    double loss = 0.0;    ///< mean training cross-entropy
    double auxLoss = 0.0; ///< mean load-balancing loss
    double zLoss = 0.0;   ///< mean router z-loss
    double devAccuracy = 0.0;
    double devF1 = 0.0;
    double expertEntropy = 0.0;  ///< dev expert usage, normalized entropy averaged over layers
    double minExpertShare = 0.0; ///< dev, smallest expert share over all layers
    double seconds = 0.0;
    bool best = false;
};

struct TrainOptions {
    std::filesystem::path trainData;
    std::filesystem::path devData;
    DatasetOptions dataOptions;
    std::filesystem::path outDir;
    /// An existing spiece.model to use instead of training one.
    std::optional<std::filesystem::path> tokenizer;
    /// Names for integer labels 0..n-1 (e.g. negative, positive); empty: the labels as written.
    std::vector<std::string> labelNames;
    ArchitectureOptions architecture;
    OptimizerOptions optimizer;
    int64_t maxLength = 128;
    uint64_t seed = 42;
    int threads = 0;
    std::string device = "auto";
    std::string storageDType = "bfloat16"; ///< model.safetensors dtype (routers stay float32)
    bool resume = false;                   ///< continue from outDir's saved training state
    std::string command;                   ///< the command line, recorded in training.json
    std::function<void(const EpochMetrics&)> onEpoch;
};

struct FinetuneOptions {
    std::filesystem::path modelDir; ///< an existing Switch checkpoint (e.g. google/switch-base-8)
    std::filesystem::path trainData;
    std::filesystem::path devData; ///< optional
    DatasetOptions dataOptions;
    std::filesystem::path outDir;
    std::vector<std::string> labelNames; ///< as in TrainOptions
    OptimizerOptions optimizer;
    int64_t maxLength = 128;
    uint64_t seed = 42;
    int threads = 0;
    std::string device = "auto";
    std::string storageDType = "float32";
    std::string command;
    std::function<void(const EpochMetrics&)> onEpoch;
};

struct TrainResult {
    std::vector<EpochMetrics> epochs;
    int bestEpoch = 0;
    double bestDevAccuracy = 0.0;
    bool interrupted = false; ///< cancelled: the state is saved, --resume continues
    double seconds = 0.0;
};

/// Trains a Switch Transformers encoder classifier from scratch (and its tokenizer, unless one
/// is given) and writes a Hugging Face model folder: config.json, model.safetensors,
/// spiece.model, training.json. Keeps the checkpoint with the best dev accuracy. Cancelling
/// saves the training state and returns with `interrupted`.
TrainResult trainClassifier(const TrainOptions& options, const ProgressCallback& progress = {},
                            const CancelToken& cancel = {});

/// Fine-tunes an existing checkpoint with a fresh classification head for the labels of the
/// training data (the whole model, or only the head).
TrainResult finetuneClassifier(const FinetuneOptions& options, const ProgressCallback& progress = {},
                               const CancelToken& cancel = {});

} // namespace sida
