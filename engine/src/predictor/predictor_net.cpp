// SPDX-License-Identifier: MIT
#include "predictor/predictor_net.h"

#include "core/json_fields.h"
#include "io/tensor_io.h"
#include "predictor/sparsemax.h"

#include "sida/checksum.h"
#include "sida/errors.h"

#include <cmath>
#include <fstream>
#include <string>

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

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
// tanh through exp, which the C library computes several times faster than tanh (the absolute
// error stays within a few float ulps of 1).
float tanhViaExp(float x) { return 2.0f * sigmoid(2.0f * x) - 1.0f; }

// One step of an LSTM layer for the first `n` rows of the batch (those whose sequences are this
// long), in place: `gates` [n, 4H] in LibTorch's order (input, forget, cell, output) holds
// x W_ih' + b + h W_hh'; `h` and `c` [>= n, H] are updated and h is also written to `out`.
void lstmCells(const float* gates, float* h, float* c, float* out, int64_t n, int64_t hidden) {
    for (int64_t r = 0; r < n; ++r) {
        const float* g = gates + r * 4 * hidden;
        for (int64_t j = 0; j < hidden; ++j) {
            const float cell =
                sigmoid(g[hidden + j]) * c[r * hidden + j] + sigmoid(g[j]) * tanhViaExp(g[2 * hidden + j]);
            c[r * hidden + j] = cell;
            h[r * hidden + j] = out[r * hidden + j] = sigmoid(g[3 * hidden + j]) * tanhViaExp(cell);
        }
    }
}

} // namespace

at::Tensor unidirectionalLstmInference(torch::nn::LSTM& lstm, const at::Tensor& x,
                                       const at::Tensor& lengths) {
    const int64_t batch = x.size(0), length = x.size(1), hidden = lstm->options.hidden_size();
    // Longest first, time-major: at step t the sequences still running are the first rows.
    const auto [sortedLengths, order] = lengths.sort(/*stable=*/true, 0, /*descending=*/true);
    const int64_t* steps = sortedLengths.const_data_ptr<int64_t>();
    at::Tensor input = x.index_select(0, order).transpose(0, 1).contiguous(); // [S, B, In]
    const auto p = lstm->named_parameters(/*recurse=*/false);
    for (int64_t layer = 0; layer < lstm->options.num_layers(); ++layer) {
        const std::string suffix = "_l" + std::to_string(layer);
        const at::Tensor recurrentT = p["weight_hh" + suffix].t();
        // The input's share of every step's gates at once: one matrix product for the layer.
        const at::Tensor inputGates = at::addmm(p["bias_ih" + suffix] + p["bias_hh" + suffix],
                                                input.flatten(0, 1), p["weight_ih" + suffix].t())
                                          .view({length, batch, 4 * hidden});
        at::Tensor h = at::zeros({batch, hidden}), c = at::zeros({batch, hidden});
        at::Tensor gates = at::empty({batch, 4 * hidden});
        at::Tensor out = at::zeros({length, batch, hidden}); // padding stays 0, as pad_packed_sequence
        int64_t running = batch;
        for (int64_t t = 0; t < length; ++t) {
            while (running > 0 && steps[running - 1] <= t) --running;
            if (running == 0) break;
            at::Tensor stepGates = gates.narrow(0, 0, running);
            at::addmm_out(stepGates, inputGates[t].narrow(0, 0, running), h.narrow(0, 0, running),
                          recurrentT);
            lstmCells(gates.const_data_ptr<float>(), h.data_ptr<float>(), c.data_ptr<float>(),
                      out[t].data_ptr<float>(), running, hidden);
        }
        input = out;
    }
    return at::empty_like(input.transpose(0, 1)).index_copy_(0, order, input.transpose(0, 1));
}

at::Tensor PredictorNet::forward(const at::Tensor& embeddings, const at::Tensor& mask) {
    const int64_t length = embeddings.size(1);
    const at::Tensor x = at::relu(compress_->forward(embeddings));
    const at::Tensor lengths = mask.sum(1).to(at::kCPU, at::kLong);
    at::Tensor o;
    if (!is_training() && !at::GradMode::is_enabled() && x.is_cpu() && x.scalar_type() == at::kFloat &&
        !metadata_.architecture.bidirectional) {
        o = unidirectionalLstmInference(lstm_, x.contiguous(), lengths);
    } else {
        // Packing keeps padding out of the LSTM (in both directions when bidirectional).
        const auto packed = torch::nn::utils::rnn::pack_padded_sequence(x, lengths, /*batch_first=*/true,
                                                                        /*enforce_sorted=*/false);
        const auto [packedOut, state] = lstm_->forward_with_packed_input(packed);
        o = std::get<0>(
            torch::nn::utils::rnn::pad_packed_sequence(packedOut, /*batch_first=*/true, 0.0, length));
    }
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
