// SPDX-License-Identifier: MIT
// The inside of sida::Model, shared by the engine's parts (classify, training, serving).
#pragma once

#include "model/switch_encoder.h"
#include "model/switch_weights.h"
#include "sida/model.h"
#include "sida/safetensors.h"

#include <ATen/ATen.h>

#include <memory>

namespace sida::detail {
class ExpertStore;
class PredictorNet;
} // namespace sida::detail

namespace sida {

struct Model::Impl {
    ModelInfo info;
    LoadOptions options;
    std::unique_ptr<Checkpoint> checkpoint; ///< kept open: the mapped host tier of the experts
    std::unique_ptr<Tokenizer> tokenizer;
    detail::SwitchWeights weights;                ///< everything but the experts, on `device`
    std::unique_ptr<detail::ExpertStore> experts; ///< the experts: host tier and device pool
    at::Device device{at::kCPU};
    at::ScalarType dtype = at::kFloat;
    std::shared_ptr<detail::PredictorNet> predictor; ///< null when the model has none

    const SwitchConfig& config() const { return info.config; }
    /// Tokenizes one input with the model's maximum length.
    Encoding encode(const TextInput& input) const;
    /// SHA-256 of the stored shared embedding: what a predictor.json must name.
    std::string fingerprint() const;
    /// Right-padded [B, S] ids and mask on the model's device.
    detail::TokenBatch pad(const std::vector<std::vector<int64_t>>& sequences) const;
};

namespace detail {

/// "float32" / "bfloat16" -> the compute dtype; float16 and others are refused by name.
at::ScalarType parseComputeDType(const std::string& name);

/// Loads and validates the weights of a checkpoint into `weights` (compute dtype, on `device`;
/// routers stay float32), the experts too when `includeExperts` (training) — serving keeps them
/// in an ExpertStore instead. Every name and shape is checked first. Returns the number of labels
/// of the classifier head (0 if none).
int64_t loadSwitchWeights(const SwitchConfig& config, const Checkpoint& checkpoint, at::ScalarType dtype,
                          at::Device device, SwitchWeights& weights, const ProgressCallback& progress,
                          const CancelToken& cancel, bool includeExperts = true);

/// Writes weights as model.safetensors in `storage` dtype (routers keep float32).
void saveSwitchWeights(const SwitchConfig& config, const SwitchWeights& weights, at::ScalarType storage,
                       const std::filesystem::path& file);

/// Fills the ModelInfo fields that follow from the config, the weights and the checkpoint.
void describeModel(ModelInfo& info, const SwitchWeights& weights, const Checkpoint* checkpoint,
                   at::ScalarType dtype, at::Device device);

} // namespace detail
} // namespace sida
