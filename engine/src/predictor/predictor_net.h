// SPDX-License-Identifier: MIT
// The predictor network, and predictor.safetensors / predictor.json beside a model.
#pragma once

#include "core/predictor_metadata.h"
#include "sida/safetensors.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sida::detail {

class PredictorNet : public torch::nn::Module {
public:
    explicit PredictorNet(PredictorMetadata metadata);

    /// Router logits predicted from token embeddings: [MoE layers, B, S, E]. `mask` [B, S] marks
    /// real tokens; padding never influences a real token's prediction.
    at::Tensor forward(const at::Tensor& embeddings, const at::Tensor& mask);

    PredictorMetadata& metadata() { return metadata_; }
    const PredictorMetadata& metadata() const { return metadata_; }

private:
    PredictorMetadata metadata_;
    torch::nn::Linear compress_{nullptr};
    torch::nn::LSTM lstm_{nullptr};
    torch::nn::Linear residual_{nullptr};
    torch::nn::ModuleList heads_{nullptr};
};

/// The fingerprint of a model: SHA-256 of its shared embedding's stored bytes.
std::string modelFingerprint(const Checkpoint& checkpoint);

/// Writes predictor.safetensors and predictor.json (its metadata) into `modelDir`.
void savePredictor(const PredictorNet& net, const std::filesystem::path& modelDir);

/// Loads the predictor beside a model onto `device`; nullptr when the model has none. sida::Error
/// (naming the file and field) when it is malformed or belongs to another model.
std::shared_ptr<PredictorNet> loadPredictor(const std::filesystem::path& modelDir, const SwitchConfig& config,
                                            const std::string& fingerprint, const at::Device& device);

} // namespace sida::detail
