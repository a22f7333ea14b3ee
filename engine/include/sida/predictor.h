// SPDX-License-Identifier: MIT
// The SiDA hash function: a small network that predicts, from token embeddings alone, which
// expert every MoE layer's router will choose for every token, trained by truncated knowledge
// distillation from the routers (SiDA-MoE, Du et al., MLSys 2024, sections 3.4-3.5).
#pragma once

#include "sida/dataset.h"
#include "sida/model.h"
#include "sida/progress.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sida {

/// Embedding (the model's own, frozen) -> Linear + ReLU -> LSTM -> sparsemax self-attention
/// (padding masked) + residual from the compressed input -> one linear head per MoE layer.
struct PredictorArchitecture {
    int64_t hidden = 128;   ///< the compressed width (the paper's is 256)
    int64_t lstmLayers = 1; ///< (the paper's: 2)
    bool bidirectional = false;
};

/// The training recipe. The loss weights and T are the paper's; width, depth and learning rate are
/// the recipe the demo model's predictor is trained with (docs/MODELS.md: one LSTM layer lost
/// nothing against two there); the paper's are 256, 2 and 5e-5.
struct PredictorTrainOptions {
    std::filesystem::path modelDir;
    std::filesystem::path trainData;
    std::filesystem::path devData;      ///< early stopping on its top-1 hit rate
    std::filesystem::path collected;    ///< activations from `sida collect` instead of trainData
    std::filesystem::path devCollected; ///< activations from `sida collect` instead of devData
    DatasetOptions dataOptions;
    PredictorArchitecture architecture;
    int epochs = 20;
    int batchSize = 64;
    double learningRate = 1e-3;
    double crossEntropyWeight = 0.005; ///< lambda: weight of CE against the teacher's argmax
    int64_t topT = 30;                 ///< truncation: KD over the teacher's top-T (min(T, E))
    int patience = 3;                  ///< epochs without a better dev top-1 before stopping
    int64_t maxLength = 128;
    uint64_t seed = 42;
    int threads = 0;
    std::string device = "auto";
    /// The model's compute dtype while its routers teach (float32 or bfloat16): bfloat16 halves
    /// the experts' memory for a large model; the predictor itself trains in float32.
    std::string dtype = "float32";
    std::string command; ///< recorded in predictor.json
};

struct PredictorEpoch {
    int epoch = 0;
    double loss = 0.0;
    double devTop1 = 0.0; ///< mean over MoE layers
    double devTop3 = 0.0;
    double seconds = 0.0;
    bool best = false;
};

struct PredictorTrainResult {
    std::vector<PredictorEpoch> epochs;
    int bestEpoch = 0;
    double bestDevTop1 = 0.0;
    bool interrupted = false;
    double seconds = 0.0;
};

/// Trains the predictor for the model in options.modelDir and saves predictor.safetensors and
/// predictor.json beside it (the best dev epoch). Cancelling keeps the best epoch so far.
PredictorTrainResult trainPredictor(const PredictorTrainOptions& options,
                                    const std::function<void(const PredictorEpoch&)>& onEpoch = {},
                                    const ProgressCallback& progress = {}, const CancelToken& cancel = {});

struct CollectOptions {
    std::filesystem::path out; ///< a folder of safetensors shards
    int64_t sequencesPerShard = 4096;
    int64_t topT = 30; ///< logits kept per token and layer (all of them when E <= T)
    int batchSize = 64;
};

struct CollectResult {
    int64_t sequences = 0;
    int64_t tokens = 0;
    int shards = 0;
    int shardsReused = 0; ///< complete shards found from an earlier, interrupted run
    bool fullLogits = false;
};

/// Runs the model over a data set and stores, per sequence, its token ids and every MoE layer's
/// router logits (the teacher's top-T, or all of them when E <= T) for real tokens only.
/// Resumable: complete shards in `out` are kept.
CollectResult collectRouterLogits(const Model& model, const Dataset& data, const CollectOptions& options,
                                  const ProgressCallback& progress = {}, const CancelToken& cancel = {});

/// One frequent kind of miss: the predictor's top-1 and the router's choice.
struct PredictorMiss {
    int64_t predicted = 0;
    int64_t actual = 0;
    int64_t count = 0;
};

struct PredictorLayerReport {
    int64_t block = 0;
    double top1HitRate = 0.0;          ///< router's argmax == predictor's argmax, real tokens only
    double topKHitRate = 0.0;          ///< router's argmax among the predictor's top-k
    double setRecall = 0.0;            ///< per sequence: share of the router's experts in the predicted set
    double predictedSetSize = 0.0;     ///< per sequence: distinct experts in the predicted top-k set
    double routerSetSize = 0.0;        ///< per sequence: distinct experts the router used
    std::vector<PredictorMiss> misses; ///< most frequent first
    std::vector<std::vector<int64_t>> confusion; ///< [predicted top-1][router's choice]
};

struct PredictorReport {
    int64_t sequences = 0;
    int64_t tokens = 0;
    int topK = 3;
    double top1HitRate = 0.0; ///< mean over layers
    double topKHitRate = 0.0;
    double majorityBaseline = 0.0; ///< top-1 of always predicting each layer's most used expert
    /// Baselines from the training set, when one is given (-1 otherwise). What reading only the
    /// token gets: the top-1 of each token id's most frequent expert in the training set's routes.
    double tokenLookupTop1 = -1.0;
    /// How often the routers choose what the routing aid's token-to-expert table says (the table
    /// the model was trained toward, rebuilt from the training set and the recorded seed).
    double routingAidAgreement = -1.0;
    std::string routingAidNote; ///< why routingAidAgreement was not measured, if it was not
    std::vector<PredictorLayerReport> layers;
    double predictorMsPerSequence = 0.0; ///< batch 1, on the model's device
    double modelMsPerSequence = 0.0;     ///< the model's own forward, same inputs
};

/// Measures the model's predictor against its routers on a data set; with `trainingSet`, also
/// against the two token-only baselines (tokenLookupTop1, routingAidAgreement).
PredictorReport evaluatePredictor(const Model& model, const Dataset& data, int topK = 3,
                                  const Dataset* trainingSet = nullptr, const ProgressCallback& progress = {},
                                  const CancelToken& cancel = {});

} // namespace sida
