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
    SwitchWeights weights;                 ///< float32 on `device`; trainable ones require grad
    std::vector<at::Tensor> routingTables; ///< the token-routing aid, one [V, E] per MoE layer
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

/// A fresh classification head (dense d x d + out_proj) for `numLabels` labels.
void initializeHead(const SwitchConfig& config, int64_t numLabels, SwitchWeights& weights);

/// The parameters the optimiser updates (everything, or only the head).
std::vector<at::Tensor> trainableParameters(const SwitchConfig& config, SwitchWeights& weights, bool headOnly);

/// Runs the epochs; resumes from `run.stateDir` when `resume`. Cancelling saves the state.
TrainResult runTraining(TrainingRun& run, bool resume, const std::function<void(const EpochMetrics&)>& onEpoch,
                        const ProgressCallback& progress, const CancelToken& cancel);

} // namespace sida::detail
