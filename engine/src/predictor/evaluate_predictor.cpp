// SPDX-License-Identifier: MIT
// sida eval-predictor: how well the predictor anticipates the routers, and what it costs.
#include "device/device.h"
#include "model/switch_encoder.h"
#include "predictor/distillation.h"
#include "serving/serving_hooks.h"
#include "train/trainer.h"
#include "train/training_data.h"

#include "sida/checksum.h"
#include "sida/errors.h"

#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
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

// Every real token's id, in the teacher's row order.
at::Tensor rowTokenIds(const detail::TeacherData& teacher) {
    std::vector<int64_t> ids;
    ids.reserve(static_cast<size_t>(teacher.rows()));
    for (const auto& sequence : teacher.sequences) ids.insert(ids.end(), sequence.begin(), sequence.end());
    return at::tensor(ids, at::kLong);
}

// The share of the tokens whose router chose what `table` (per layer, indexed by token id) says,
// mean over layers.
double tableAgreement(const std::vector<at::Tensor>& table, const detail::TeacherData& teacher) {
    const at::Tensor ids = rowTokenIds(teacher);
    double sum = 0.0;
    for (size_t l = 0; l < table.size(); ++l)
        sum += table[l]
                   .index_select(0, ids)
                   .eq(teacher.topIndices[l].select(1, 0))
                   .to(at::kDouble)
                   .mean()
                   .item<double>();
    return table.empty() ? 0.0 : sum / static_cast<double>(table.size());
}

// Each token id's most frequent expert in the routes of `train`; the layer's most used expert for
// the ids it never routes.
std::vector<at::Tensor> tokenLookup(const detail::TeacherData& train, int64_t vocab, int64_t experts) {
    const at::Tensor ids = rowTokenIds(train);
    std::vector<at::Tensor> table;
    for (const at::Tensor& top : train.topIndices) {
        const at::Tensor actual = top.select(1, 0);
        const at::Tensor counts =
            at::bincount(ids * experts + actual, {}, vocab * experts).view({vocab, experts});
        const at::Tensor mostUsed = at::bincount(actual, {}, experts).argmax();
        table.push_back(at::where(counts.sum(1) > 0, counts.argmax(1), mostUsed));
    }
    return table;
}

// The routing aid's token-to-expert table the model was trained toward, rebuilt as training built
// it: from the same training set (checked by its SHA-256 in training.json) and the recorded seed.
// Empty, with the reason in `why`, when that cannot be done.
std::vector<at::Tensor> routingAidTable(const Model::Impl& m, const Dataset& train, std::string& why) {
    const std::filesystem::path path = m.info.path / "training.json";
    std::ifstream in(path);
    if (!in) {
        why = "the model folder has no training.json";
        return {};
    }
    const nlohmann::json record = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded() || !record.contains("recipe") || !record.contains("seed")) {
        why = path.string() + " is not a training record";
        return {};
    }
    if (record["recipe"].value("token_routing_weight", 0.0) <= 0) {
        why = "the model was trained without the routing aid";
        return {};
    }
    std::string recorded;
    for (const auto& file : record.value("data", nlohmann::json::array()))
        if (file.value("role", "") == "train") recorded = file.value("sha256", "");
    if (recorded != sha256File(train.source)) {
        why = train.source + " is not the training set the model was trained on (its SHA-256 differs from " +
              path.string() + "'s)";
        return {};
    }
    const detail::TokenizedSet set = detail::tokenizeExamples(
        train, *m.tokenizer, record["recipe"].value("max_length", m.info.maxLength), m.info.labels);
    return detail::balancedTokenExperts(set, m.config().vocab_size, m.config().num_experts,
                                        m.info.moeBlocks.size(), record["seed"].get<uint64_t>());
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

PredictorReport evaluateHere(const Model& model, const Dataset& data, int topK, const Dataset* trainingSet,
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
    if (trainingSet) {
        const detail::TeacherData train =
            detail::collectTeacher(m, tokenize(m, *trainingSet), 1, 64, progress, cancel);
        report.tokenLookupTop1 = tableAgreement(tokenLookup(train, m.config().vocab_size, experts), teacher);
        const std::vector<at::Tensor> aid = routingAidTable(m, *trainingSet, report.routingAidNote);
        if (!aid.empty()) report.routingAidAgreement = tableAgreement(aid, teacher);
    }
    std::tie(report.predictorMsPerSequence, report.modelMsPerSequence) =
        timePerSequence(m, net, teacher.sequences);
    return report;
}

} // namespace

PredictorReport evaluatePredictor(const Model& model, const Dataset& data, int topK,
                                  const Dataset* trainingSet, const ProgressCallback& progress,
                                  const CancelToken& cancel) {
    return detail::runWithComputeThreads(model.impl().options.threads, [&] {
        return evaluateHere(model, data, topK, trainingSet, progress, cancel);
    });
}

} // namespace sida
