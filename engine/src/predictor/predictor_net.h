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

/// A unidirectional LSTM's output [B, S, H] for float32 inputs `x` [B, S, In] on the CPU, without
/// autograd; 0 past each sequence's length (`lengths` [B], CPU). What PredictorNet::forward runs
/// when it is not training: LibTorch's LSTM spends about ten operator calls on every time step,
/// which at serving's batch sizes cost more than the arithmetic; here a step is one matrix product
/// and one loop over the gates. The same outputs as LibTorch's (tst_predictor_internals).
at::Tensor unidirectionalLstmInference(torch::nn::LSTM& lstm, const at::Tensor& x, const at::Tensor& lengths);

/// The fingerprint of a model: SHA-256 of its shared embedding's stored bytes.
std::string modelFingerprint(const Checkpoint& checkpoint);

/// Writes predictor.safetensors and predictor.json (its metadata) into `modelDir`.
void savePredictor(const PredictorNet& net, const std::filesystem::path& modelDir);

/// Loads the predictor beside a model onto `device`; nullptr when the model has none. sida::Error
/// (naming the file and field) when it is malformed or belongs to another model.
std::shared_ptr<PredictorNet> loadPredictor(const std::filesystem::path& modelDir, const SwitchConfig& config,
                                            const std::string& fingerprint, const at::Device& device);

} // namespace sida::detail
