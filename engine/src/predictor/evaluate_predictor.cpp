// SPDX-License-Identifier: MIT
// sida eval-predictor: how well the predictor anticipates the routers, and what it costs.
#include "model/switch_encoder.h"
#include "predictor/distillation.h"
#include "serving/serving_hooks.h"

#include "sida/errors.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace sida {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::vector<int64_t>> tokenize(const Model::Impl& m, const Dataset& data) {
    std::vector<std::vector<int64_t>> sequences;
    for (const Example& e : data.examples)
        sequences.push_back((e.pair ? m.tokenizer->encodePair(e.text, *e.pair, m.info.maxLength)
                                    : m.tokenizer->encode(e.text, m.info.maxLength))
                                .ids);
    return sequences;
}

// Per sequence: the share of the router's experts that the predicted top-k set covers.
void accumulateSets(const at::Tensor& predictedTopK, const at::Tensor& actual,
                    const std::vector<int64_t>& offsets, PredictorLayerReport& layer) {
    const int64_t k = predictedTopK.size(1);
    const int64_t* p = predictedTopK.data_ptr<int64_t>();
    const int64_t* a = actual.data_ptr<int64_t>();
    for (size_t s = 0; s + 1 < offsets.size(); ++s) {
        std::set<int64_t> predicted, used;
        for (int64_t r = offsets[s]; r < offsets[s + 1]; ++r) {
            used.insert(a[r]);
            predicted.insert(p + r * k, p + (r + 1) * k);
        }
        int64_t covered = 0;
        for (int64_t e : used) covered += predicted.count(e);
        layer.setRecall += static_cast<double>(covered) / static_cast<double>(used.size());
        layer.predictedSetSize += static_cast<double>(predicted.size());
        layer.routerSetSize += static_cast<double>(used.size());
    }
}

std::vector<PredictorMiss> frequentMisses(const std::vector<std::vector<int64_t>>& confusion, size_t limit) {
    std::vector<PredictorMiss> misses;
    for (size_t p = 0; p < confusion.size(); ++p)
        for (size_t a = 0; a < confusion.size(); ++a)
            if (p != a && confusion[p][a] > 0)
                misses.push_back({static_cast<int64_t>(p), static_cast<int64_t>(a), confusion[p][a]});
    std::sort(misses.begin(), misses.end(), [](const auto& x, const auto& y) { return x.count > y.count; });
    if (misses.size() > limit) misses.resize(limit);
    return misses;
}

// Milliseconds per sequence at batch 1 for the predictor and for the model's own forward.
std::pair<double, double> timePerSequence(const Model::Impl& m, detail::PredictorNet& net,
                                          const std::vector<std::vector<int64_t>>& sequences) {
    const size_t n = std::min<size_t>(sequences.size(), 200);
    if (n == 0) return {0.0, 0.0};
    const auto lock = m.experts->lock();
    detail::StoreRouterHooks hooks(*m.experts, m.options.noDrop);
    auto time = [&](auto&& run) {
        run(sequences[0]); // warm-up
        const auto start = Clock::now();
        for (size_t i = 0; i < n; ++i) run(sequences[i]);
        return std::chrono::duration<double, std::milli>(Clock::now() - start).count() /
               static_cast<double>(n);
    };
    const double predictor = time([&](const std::vector<int64_t>& s) {
        const auto batch = detail::embedBatch(m.weights.shared, m.config().pad_token_id, {&s}, m.device);
        (void)detail::predictRealTokens(net, batch).cpu();
    });
    const double model = time([&](const std::vector<int64_t>& s) {
        const auto batch = detail::padSequences({&s}, m.config().pad_token_id, m.device);
        const auto out = detail::runEncoder(m.config(), m.weights, batch, hooks, {});
        if (m.weights.classifier.present())
            (void)detail::classifierLogits(m.weights, out.hidden, batch.mask, {}).cpu();
    });
    return {predictor, model};
}

} // namespace

PredictorReport evaluatePredictor(const Model& model, const Dataset& data, int topK,
                                  const ProgressCallback& progress, const CancelToken& cancel) {
    const Model::Impl& m = model.impl();
    if (!m.predictor)
        throw Error("model '" + m.info.path.string() +
                    "' has no predictor (train one with 'sida train-predictor')");
    const int64_t experts = m.config().num_experts;
    if (topK < 1 || topK > experts) throw Error("top-k must be in 1.." + std::to_string(experts));
    c10::InferenceMode guard;
    const detail::TeacherData teacher = detail::collectTeacher(m, tokenize(m, data), 1, 64, progress, cancel);
    detail::PredictorNet& net = *m.predictor;

    PredictorReport report;
    report.topK = topK;
    report.sequences = static_cast<int64_t>(teacher.sequences.size());
    report.tokens = teacher.rows();
    const size_t layers = m.info.moeBlocks.size();
    std::vector<at::Tensor> predicted(layers);
    std::vector<std::vector<at::Tensor>> parts(layers);
    for (size_t first = 0; first < teacher.sequences.size(); first += 64) {
        cancel.throwIfCancelled();
        std::vector<const std::vector<int64_t>*> batch;
        for (size_t i = first; i < std::min(teacher.sequences.size(), first + 64); ++i)
            batch.push_back(&teacher.sequences[i]);
        const at::Tensor logits = detail::predictRealTokens(
            net, detail::embedBatch(m.weights.shared, m.config().pad_token_id, batch, m.device));
        for (size_t l = 0; l < layers; ++l)
            parts[l].push_back(std::get<1>(logits[static_cast<int64_t>(l)].topk(topK, -1)).cpu());
        if (progress)
            progress(
                {"running the predictor", static_cast<int64_t>(first + batch.size()), report.sequences, ""});
    }
    for (size_t l = 0; l < layers; ++l) {
        const at::Tensor topk = parts[l].empty() ? at::empty({0, topK}, at::kLong) : at::cat(parts[l]);
        const at::Tensor actual = teacher.topIndices[l].select(1, 0).contiguous();
        PredictorLayerReport layer;
        layer.block = m.info.moeBlocks[l];
        layer.confusion.assign(experts, std::vector<int64_t>(experts, 0));
        const at::Tensor top1 = topk.select(1, 0).contiguous();
        const int64_t* p = top1.data_ptr<int64_t>();
        const int64_t* a = actual.data_ptr<int64_t>();
        for (int64_t r = 0; r < report.tokens; ++r) ++layer.confusion[p[r]][a[r]];
        const double tokens = static_cast<double>(std::max<int64_t>(1, report.tokens));
        layer.top1HitRate = static_cast<double>(top1.eq(actual).sum().item<int64_t>()) / tokens;
        layer.topKHitRate =
            static_cast<double>(topk.eq(actual.unsqueeze(1)).any(1).sum().item<int64_t>()) / tokens;
        accumulateSets(topk.contiguous(), actual, teacher.offsets, layer);
        const double sequences = static_cast<double>(std::max<int64_t>(1, report.sequences));
        layer.setRecall /= sequences;
        layer.predictedSetSize /= sequences;
        layer.routerSetSize /= sequences;
        layer.misses = frequentMisses(layer.confusion, 10);
        const at::Tensor usage = at::bincount(actual, {}, experts);
        report.majorityBaseline +=
            static_cast<double>(usage.max().item<int64_t>()) / tokens / static_cast<double>(layers);
        report.top1HitRate += layer.top1HitRate / static_cast<double>(layers);
        report.topKHitRate += layer.topKHitRate / static_cast<double>(layers);
        report.layers.push_back(std::move(layer));
    }
    std::tie(report.predictorMsPerSequence, report.modelMsPerSequence) =
        timePerSequence(m, net, teacher.sequences);
    return report;
}

} // namespace sida
