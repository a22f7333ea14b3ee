// SPDX-License-Identifier: MIT
// The serving pipeline through the engine's internal API: the out-of-memory fallback, driven by an
// injected slot-allocation failure (the lowered budget holds on later batches, standard keeps
// serving with standard's output, the traces say so), and the sida policy's use of a hash table,
// checked against the standard policy with a table of the routers' own choices. Also run under
// ThreadSanitizer (label `pipeline`).
#include "pipeline_sink.h"
#include "test_printers.h"
#include "test_support.h"

#include "model/model_impl.h"
#include "serving/expert_store.h"
#include "serving/fault_injection.h"
#include "serving/hash_builder.h"

#include "sida/pipeline.h"

#include <QScopeGuard>
#include <QtTest>

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <mutex>

using namespace sida;

namespace {

using test::requests;
using test::Sink;

std::vector<RequestResult> runAll(const std::shared_ptr<Model>& model, PipelineOptions options,
                                  const std::vector<std::string>& texts, Sink& sink) {
    Pipeline pipeline(model, options, sink.resultCallback(), sink.traceObserver());
    pipeline.submit(requests(texts));
    pipeline.waitIdle();
    std::lock_guard lock(sink.mutex);
    return sink.results;
}

// The largest difference between two results' class probabilities; infinite when either failed.
double probabilityDifference(const RequestResult& a, const std::vector<double>& b) {
    if (!a.classification.ok()) {
        qWarning("request %s failed: %s", a.tag.c_str(), a.classification.error.c_str());
        return INFINITY;
    }
    if (a.classification.probabilities.size() != b.size()) return INFINITY;
    double worst = 0;
    for (size_t k = 0; k < b.size(); ++k)
        worst = std::max(worst, std::abs(a.classification.probabilities[k] - b[k]));
    return worst;
}

double maxDifference(const std::vector<RequestResult>& a, const std::vector<RequestResult>& b) {
    if (a.size() != b.size()) return INFINITY;
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, probabilityDifference(a[i], b[i].classification.probabilities));
    return worst;
}

std::shared_ptr<Model> loadFixture(const char* name, bool noDrop = false) {
    return Model::load(test::fixture(name), {.device = "cpu", .threads = 1, .noDrop = noDrop});
}

int64_t allExperts(const Model& model) { return model.info().totalExpertBytes / model.info().expertBytes; }

} // namespace

class ServingInternalsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void outOfMemoryLowersTheBudgetUntilNewSettings_data();
    void outOfMemoryLowersTheBudgetUntilNewSettings();
    void sidaOnTheRoutersOwnTableEqualsStandard();
};

void ServingInternalsTest::outOfMemoryLowersTheBudgetUntilNewSettings_data() {
    QTest::addColumn<int>("policy");
    // Standard runs out while filling the pool before its first batch; ondemand in the middle of a
    // forward pass, while fetching an expert a router asked for.
    QTest::newRow("standard") << static_cast<int>(Policy::Standard);
    QTest::newRow("ondemand") << static_cast<int>(Policy::OnDemand);
}

void ServingInternalsTest::outOfMemoryLowersTheBudgetUntilNewSettings() {
    QFETCH(int, policy);
    const auto texts = test::syntheticSentences(12, 3);
    Sink reference;
    const auto unconstrained = runAll(loadFixture("hf/e4-step2-fp32"),
                                      {.policy = Policy::Standard, .batchSize = 2}, texts, reference);

    // A fresh model: its pool starts empty, so the fourth slot it allocates is the one that fails.
    const auto model = loadFixture("hf/e4-step2-fp32");
    const int64_t experts = allExperts(*model), expertBytes = model->info().expertBytes;
    const int64_t halved = experts / 2;
    const PipelineOptions options{.policy = static_cast<Policy>(policy), .batchSize = 2};
    Sink sink;
    Pipeline pipeline(model, options, sink.resultCallback(), sink.traceObserver());
    {
        sida::detail::failSlotAllocationAfter(3);
        const auto disarm = qScopeGuard([] { sida::detail::failSlotAllocationAfter(-1); });
        pipeline.submit(requests(texts));
        pipeline.waitIdle();
    }
    // A batch's trace follows its results: waitIdle can return before the last one arrives.
    const uint64_t firstBatches = pipeline.stats().batches;
    QTRY_COMPARE(sink.traceCount(), size_t(firstBatches));
    {
        std::lock_guard lock(sink.mutex);
        QCOMPARE(sink.results.size(), texts.size());
        QVERIFY2(maxDifference(sink.results, unconstrained) <= 1e-5,
                 qPrintable(QString::number(maxDifference(sink.results, unconstrained))));
        const std::string notice = "device out of memory: expert budget lowered to " +
                                   std::to_string(halved) + " of " + std::to_string(experts) + " experts";
        bool lowered = false;
        for (const auto& t : sink.traces) {
            lowered = lowered || !t->notice.empty();
            // Once lowered, the budget stays lowered on every later batch, and each trace says so.
            QCOMPARE(t->memory.budgetBytes, uint64_t((lowered ? halved : experts) * expertBytes));
            QVERIFY(t->memory.residentExpertBytes <= t->memory.budgetBytes);
            if (lowered) QVERIFY2(t->notice.rfind(notice, 0) == 0, t->notice.c_str());
        }
        QVERIFY2(lowered, "the injected out-of-memory error never happened");
        QVERIFY2(!sink.traces.back()->notice.empty(),
                 "the last batch must still run under the lowered budget");
        sink.results.clear();
        sink.traces.clear();
    }

    // New settings (even the same ones, set again) replace the lowered budget.
    pipeline.setOptions(options);
    pipeline.submit(requests({texts.begin(), texts.begin() + 4}));
    pipeline.waitIdle();
    QTRY_COMPARE(sink.traceCount(), size_t(pipeline.stats().batches - firstBatches));
    std::lock_guard lock(sink.mutex);
    QVERIFY(!sink.traces.empty());
    for (const auto& t : sink.traces) {
        QVERIFY2(t->notice.empty(), t->notice.c_str());
        QCOMPARE(t->memory.budgetBytes, uint64_t(experts * expertBytes));
    }
    QVERIFY(maxDifference(sink.results, {unconstrained.begin(), unconstrained.begin() + 4}) <= 1e-5);
}

// The sida policy given a hash table that holds, for every token, the expert its router chooses
// (top-1, with its probability, no token dropped: LoadOptions::noDrop) must compute exactly what
// the standard policy computes. The table comes from the oracle's hash builder and is checked
// against standard's own traces; sida then runs its hooks on it with no router at all.
void ServingInternalsTest::sidaOnTheRoutersOwnTableEqualsStandard() {
    const int batchSize = 4;
    const auto texts = test::syntheticSentences(12, 5);
    // Expert capacity 3 drops tokens unless told not to: the no-drop rule is part of what is checked.
    const auto model = loadFixture("hf/e4-capacity3", /*noDrop=*/true);
    Sink standardSink, droppingSink;
    const auto standard =
        runAll(model, {.policy = Policy::Standard, .batchSize = batchSize}, texts, standardSink);
    const auto dropping = runAll(loadFixture("hf/e4-capacity3"),
                                 {.policy = Policy::Standard, .batchSize = batchSize}, texts, droppingSink);
    QVERIFY2(maxDifference(standard, dropping) > 1e-5, "the fixture must drop tokens when capacity applies");

    c10::InferenceMode inference;
    Model::Impl& m = model->impl();
    const PipelineOptions sida{.policy = Policy::Sida, .topK = 1, .shadowRouter = false};
    QCOMPARE(standardSink.traces.size(), texts.size() / batchSize);
    for (size_t b = 0; b < standardSink.traces.size(); ++b) {
        std::vector<std::vector<int64_t>> sequences;
        for (size_t i = b * batchSize; i < (b + 1) * batchSize; ++i)
            sequences.push_back(m.encode({texts[i], std::nullopt}).ids);
        const sida::detail::TokenBatch batch = m.pad(sequences);
        const sida::detail::HashTable table = sida::detail::buildHashTable(m, batch, Policy::Oracle, 1);
        const BatchTrace& trace = *standardSink.traces[b];
        QCOMPARE(table.experts.size(), trace.layers.size());
        for (size_t l = 0; l < table.experts.size(); ++l) {
            const at::Tensor experts = table.experts[l].reshape({-1}).to(at::kInt).contiguous();
            const std::vector<int32_t> predicted(experts.data_ptr<int32_t>(),
                                                 experts.data_ptr<int32_t>() + experts.numel());
            QCOMPARE(predicted, trace.layers[l].router);
        }

        const auto lock = m.experts->lock();
        sida::detail::ResidencyLog log;
        sida::detail::ServingHooks hooks(*m.experts, sida, m.options.noDrop, &table, m.dtype, m.device, log);
        hooks.prefetch();
        const sida::detail::EncoderOutput out =
            sida::detail::runEncoder(m.config(), m.weights, batch, hooks, {});
        for (const sida::detail::MoeRecord& record : out.moe)
            QVERIFY2(!record.router, "sida must not run a router here");
        const at::Tensor probs =
            at::softmax(sida::detail::classifierLogits(m.weights, out.hidden, batch.mask, {}), -1)
                .to(at::kDouble);
        for (int64_t row = 0; row < batchSize; ++row) {
            const at::Tensor p = probs[row].contiguous();
            const std::vector<double> values(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
            const RequestResult& expected = standard[b * batchSize + static_cast<size_t>(row)];
            QVERIFY2(probabilityDifference(expected, values) <= 1e-5, expected.tag.c_str());
        }
    }
}

QTEST_GUILESS_MAIN(ServingInternalsTest)
#include "tst_serving_internals.moc"
