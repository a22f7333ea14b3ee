// SPDX-License-Identifier: MIT
// Accuracy, F1 and expert usage of weights on a tokenized data set: what `sida eval` reports and
// what training measures on the dev set after each epoch.
#pragma once

#include "model/switch_encoder.h"
#include "sida/evaluate.h"
#include "train/training_data.h"

#include <ATen/ATen.h>

namespace sida::detail {

/// `hooks` supplies routing and experts (the trainer's own weights, or a served model's store).
EvalReport evaluateTokenized(const SwitchConfig& config, const SwitchWeights& weights,
                             const at::Device& device, MoeHooks& hooks, const TokenizedSet& data,
                             const std::vector<std::string>& labels, int batchSize,
                             const ProgressCallback& progress, const CancelToken& cancel);

} // namespace sida::detail
