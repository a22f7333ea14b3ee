// SPDX-License-Identifier: MIT
// The training loop shared by `sida train` (from scratch) and `sida finetune` (from a checkpoint).
#pragma once

#include "model/switch_weights.h"
#include "sida/train.h"
#include "train/training_data.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace sida::detail {

/// Everything one training run works on.
struct TrainingRun {
    SwitchConfig config;
    SwitchWeights weights; ///< float32 on `device`; trainable ones require grad
    std::vector<at::Tensor>
        tokenExperts; ///< the token-routing aid: per MoE layer, [V] expert of each token id
    std::vector<std::string> labels;
    TokenizedSet train;
    TokenizedSet dev;
    OptimizerOptions optimizer;
    uint64_t seed = 42;
    at::Device device{at::kCPU};
    std::filesystem::path stateDir; ///< where the resumable training state is kept
    /// Writes the model folder; called whenever an epoch improves the dev accuracy.
    std::function<void(const TrainingRun&)> saveBest;
};

/// HF's initialisation of a fresh Switch encoder (routers scaled down for a stable start) plus a
/// classification head, on `device`, float32.
void initializeWeights(const SwitchConfig& config, int64_t numLabels, SwitchWeights& weights);

/// A freshly initialised tensor for one slot, with Hugging Face's init scales (routers scaled
/// down for a stable start; norms ones, biases zeros).
at::Tensor initialTensor(const TensorSlot& slot, const SwitchConfig& config);

/// A fresh classification head (dense d x d + out_proj) for `numLabels` labels.
void initializeHead(const SwitchConfig& config, int64_t numLabels, SwitchWeights& weights);

/// The token-routing aid's targets: for each MoE layer, every token id's expert. Tokens of the
/// training set are dealt to experts greedily by frequency (most frequent first, to the expert
/// with the fewest token occurrences so far), so that every expert gets a fair share; the others
/// are spread by id. Layers get different assignments.
std::vector<at::Tensor> balancedTokenExperts(const TokenizedSet& train, int64_t vocabSize, int64_t numExperts,
                                             size_t layers, uint64_t seed);

/// Throws sida::Error naming the first optimiser setting that is out of range (shared by `sida
/// train` and `sida finetune`, so that neither reaches LibTorch with a value it rejects).
void validateOptimizerOptions(const OptimizerOptions& options);

/// The parameters the optimiser updates (everything, or only the head).
std::vector<at::Tensor> trainableParameters(const SwitchConfig& config, SwitchWeights& weights,
                                            bool headOnly);

/// Runs the epochs; resumes from `run.stateDir` when `resume`. Cancelling saves the state.
TrainResult runTraining(TrainingRun& run, bool resume,
                        const std::function<void(const EpochMetrics&)>& onEpoch,
                        const ProgressCallback& progress, const CancelToken& cancel);

} // namespace sida::detail
