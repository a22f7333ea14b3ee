// SPDX-License-Identifier: MIT
#include "train/evaluation.h"

#include "device/device.h"
#include "model/model_impl.h"
#include "model/switch_encoder.h"
#include "serving/serving_hooks.h"

#include "sida/errors.h"

#include <chrono>
#include <cmath>
#include <map>

namespace sida::detail {
namespace {

double macroF1(const std::vector<std::vector<int64_t>>& confusion) {
    const size_t n = confusion.size();
    double sum = 0;
    for (size_t c = 0; c < n; ++c) {
        int64_t truePositive = confusion[c][c], predicted = 0, actual = 0;
        for (size_t k = 0; k < n; ++k) {
            predicted += confusion[k][c];
            actual += confusion[c][k];
        }
        const double precision = predicted ? double(truePositive) / predicted : 0.0;
        const double recall = actual ? double(truePositive) / actual : 0.0;
        sum += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    }
    return n ? sum / static_cast<double>(n) : 0.0;
}

void summarizeUsage(LayerUsage& layer) {
    int64_t total = 0;
    for (int64_t count : layer.tokensPerExpert) total += count;
    layer.entropy = 0;
    layer.minShare = 1;
    for (int64_t count : layer.tokensPerExpert) {
        const double share = total ? double(count) / total : 0.0;
        if (share > 0) layer.entropy -= share * std::log(share);
        layer.minShare = std::min(layer.minShare, share);
    }
    const double maximum = std::log(static_cast<double>(layer.tokensPerExpert.size()));
    layer.normalizedEntropy = maximum > 0 ? layer.entropy / maximum : 1.0;
}

} // namespace

EvalReport evaluateTokenized(const SwitchConfig& config, const SwitchWeights& weights,
                             const at::Device& device, MoeHooks& hooks, const TokenizedSet& data,
                             const std::vector<std::string>& labels, int batchSize,
                             const ProgressCallback& progress, const CancelToken& cancel) {
    const auto start = std::chrono::steady_clock::now();
    if (!weights.classifier.present()) throw Error("the model has no classifier head to evaluate");
    EvalReport report;
    report.labels = labels;
    report.skipped = data.skipped;
    report.confusion.assign(labels.size(), std::vector<int64_t>(labels.size(), 0));
    const auto blocks = config.sparseBlocks();
    for (int64_t block : blocks)
        report.layers.push_back({block, std::vector<int64_t>(config.num_experts, 0), 0, 0, 0});
    std::map<int64_t, std::pair<int64_t, double>> activation; // length -> sentences, sum of fractions

    at::NoGradGuard noGrad;
    const auto total = static_cast<int64_t>(data.examples.size());
    for (int64_t first = 0; first < total; first += batchSize) {
        cancel.throwIfCancelled();
        const int64_t last = std::min(total, first + batchSize);
        std::vector<const std::vector<int64_t>*> sequences;
        for (int64_t i = first; i < last; ++i) sequences.push_back(&data.examples[i].ids);
        const TokenBatch batch = padSequences(sequences, config.pad_token_id, device);
        const EncoderOutput out = runEncoder(config, weights, batch, hooks, {});
        const at::Tensor predicted = classifierLogits(weights, out.hidden, batch.mask, {}).argmax(-1).cpu();
        for (int64_t i = first; i < last; ++i)
            ++report.confusion[data.examples[i].label][predicted[i - first].item<int64_t>()];

        // Distinct experts per sentence and layer: count (sequence, expert) pairs.
        const int64_t sentences = last - first;
        at::Tensor fractions = at::zeros({sentences}, at::kDouble);
        for (size_t layer = 0; layer < out.moe.size(); ++layer) {
            const at::Tensor experts = out.moe[layer].router->expert.cpu();
            const at::Tensor counts = at::bincount(experts, {}, config.num_experts);
            for (int64_t e = 0; e < config.num_experts; ++e)
                report.layers[layer].tokensPerExpert[e] += counts[e].item<int64_t>();
            at::Tensor used = at::zeros({sentences * config.num_experts}, at::kLong);
            used.index_fill_(0, batch.sequenceOf.cpu() * config.num_experts + experts, 1);
            fractions +=
                used.view({sentences, config.num_experts}).sum(1).to(at::kDouble) / config.num_experts;
        }
        for (int64_t i = first; i < last; ++i) {
            auto& entry = activation[static_cast<int64_t>(data.examples[i].ids.size())];
            ++entry.first;
            entry.second += fractions[i - first].item<double>() / std::max<size_t>(1, out.moe.size());
        }
        if (progress) progress({"evaluating", last, total, ""});
    }
    int64_t correct = 0;
    for (size_t c = 0; c < labels.size(); ++c) {
        correct += report.confusion[c][c];
        for (int64_t v : report.confusion[c]) report.n += v;
    }
    report.accuracy = report.n ? double(correct) / report.n : 0.0;
    report.macroF1 = macroF1(report.confusion);
    for (LayerUsage& layer : report.layers) summarizeUsage(layer);
    for (const auto& [length, entry] : activation)
        report.activation.push_back({length, entry.first, entry.second / entry.first});
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
}

} // namespace sida::detail

namespace sida {

EvalReport evaluate(const Model& model, const Dataset& data, int batchSize, const ProgressCallback& progress,
                    const CancelToken& cancel) {
    if (batchSize < 1) throw Error("batch size must be at least 1");
    const Model::Impl& m = model.impl();
    if (m.info.labels.empty())
        throw Error("model '" + m.info.path.string() + "' has no classifier head to evaluate");
    const detail::TokenizedSet set =
        detail::tokenizeExamples(data, *m.tokenizer, m.info.maxLength, m.info.labels);
    EvalReport report = detail::runWithComputeThreads(m.options.threads, [&] {
        c10::InferenceMode guard;
        const auto lock = m.experts->lock();
        detail::StoreRouterHooks hooks(*m.experts, m.options.noDrop);
        return detail::evaluateTokenized(m.config(), m.weights, m.device, hooks, set, m.info.labels,
                                         batchSize, progress, cancel);
    });
    report.skipped.insert(report.skipped.begin(), data.problems.begin(), data.problems.end());
    return report;
}

} // namespace sida
