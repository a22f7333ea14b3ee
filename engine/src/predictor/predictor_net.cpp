// SPDX-License-Identifier: MIT
#include "predictor/predictor_net.h"

#include "core/json_fields.h"
#include "io/tensor_io.h"
#include "predictor/sparsemax.h"

#include "sida/checksum.h"
#include "sida/errors.h"

#include <fstream>

namespace sida::detail {

PredictorNet::PredictorNet(PredictorMetadata metadata) : metadata_(std::move(metadata)) {
    const PredictorArchitecture& a = metadata_.architecture;
    const int64_t width = a.bidirectional ? 2 * a.hidden : a.hidden;
    compress_ = register_module("compress", torch::nn::Linear(metadata_.dModel, a.hidden));
    lstm_ = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(a.hidden, a.hidden)
                                                        .num_layers(a.lstmLayers)
                                                        .batch_first(true)
                                                        .bidirectional(a.bidirectional)));
    residual_ = register_module("residual", torch::nn::Linear(a.hidden, width));
    heads_ = register_module("heads", torch::nn::ModuleList());
    for (size_t i = 0; i < metadata_.moeBlocks.size(); ++i)
        heads_->push_back(torch::nn::Linear(width, metadata_.numExperts));
}

at::Tensor PredictorNet::forward(const at::Tensor& embeddings, const at::Tensor& mask) {
    const int64_t length = embeddings.size(1);
    const at::Tensor x = at::relu(compress_->forward(embeddings));
    // Packing keeps padding out of the LSTM (in both directions when bidirectional).
    const at::Tensor lengths = mask.sum(1).to(at::kCPU, at::kLong);
    const auto packed = torch::nn::utils::rnn::pack_padded_sequence(x, lengths, /*batch_first=*/true,
                                                                    /*enforce_sorted=*/false);
    const auto [packedOut, state] = lstm_->forward_with_packed_input(packed);
    const at::Tensor o =
        std::get<0>(torch::nn::utils::rnn::pad_packed_sequence(packedOut, /*batch_first=*/true, 0.0, length));
    // Self-attention with sparsemax weights over real tokens only (the paper's dot product,
    // unscaled), then the residual from the compressed input.
    const at::Tensor keyIsPadding = mask.eq(0).unsqueeze(1);
    const at::Tensor scores = at::matmul(o, o.transpose(1, 2)).masked_fill(keyIsPadding, -INFINITY);
    const at::Tensor context = at::matmul(sparsemax(scores, -1), o) + residual_->forward(x);
    std::vector<at::Tensor> logits;
    for (const auto& head : *heads_) logits.push_back(head->as<torch::nn::Linear>()->forward(context));
    return at::stack(logits);
}

std::string modelFingerprint(const Checkpoint& checkpoint) {
    const char* name = checkpoint.contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
    const TensorLocation location = checkpoint.locate(name);
    return sha256Hex(location.file->data(*location.info));
}

void savePredictor(const PredictorNet& net, const std::filesystem::path& modelDir) {
    SafetensorsWriter writer;
    for (const auto& item : net.named_parameters())
        addTensor(writer, item.key(), item.value().to(at::kFloat));
    writer.write(modelDir / "predictor.safetensors");
    std::ofstream(modelDir / "predictor.json") << predictorMetadataToJson(net.metadata());
}

std::shared_ptr<PredictorNet> loadPredictor(const std::filesystem::path& modelDir, const SwitchConfig& config,
                                            const std::string& fingerprint, const at::Device& device) {
    const auto jsonPath = modelDir / "predictor.json";
    const auto weightsPath = modelDir / "predictor.safetensors";
    if (!std::filesystem::exists(jsonPath) && !std::filesystem::exists(weightsPath)) return nullptr;
    if (!std::filesystem::exists(jsonPath))
        throw Error("'" + weightsPath.string() + "' has no predictor.json beside it");
    PredictorMetadata metadata = parsePredictorMetadata(readTextFile(jsonPath.string()), jsonPath.string());
    checkPredictorFits(metadata, config, fingerprint, jsonPath.string());
    auto net = std::make_shared<PredictorNet>(std::move(metadata));
    const SafetensorsFile file(weightsPath);
    torch::NoGradGuard noGrad;
    for (auto& item : net->named_parameters()) {
        const std::string& name = item.key();
        at::Tensor& parameter = item.value();
        const TensorInfo* info = file.header().find(name);
        if (!info) throw Error(weightsPath.string() + ": tensor '" + name + "' is missing");
        if (info->shape != parameter.sizes().vec())
            throw Error(weightsPath.string() + ": tensor '" + name + "' has shape " + shapeText(info->shape) +
                        " but predictor.json implies " + shapeText(parameter.sizes()));
        const at::Tensor value = readTensor({&file, info}, at::kFloat);
        checkFinite(value, name, weightsPath.string());
        parameter.copy_(value);
    }
    net->to(device);
    net->eval();
    return net;
}

} // namespace sida::detail
