// SPDX-License-Identifier: MIT
// The serving pipeline: every request gets exactly one result, in order; policies that must equal
// the standard policy do; the expert budget holds on every batch; errors, cancellation, shutdown
// and settings changes behave. Also built and run under ThreadSanitizer (the `tsan` preset).
#include "pipeline_sink.h"
#include "test_printers.h"
#include "test_support.h"

#include "sida/errors.h"
#include "sida/pipeline.h"

#include <QtTest>

#include <atomic>
#include <cmath>
#include <mutex>
#include <set>

using namespace sida;

namespace {

std::vector<std::string> sentences(size_t n, uint64_t seed = 3) { return test::syntheticSentences(n, seed); }

using test::requests;
using test::Sink;

std::vector<RequestResult> runAll(const std::shared_ptr<Model>& model, PipelineOptions options,
                                  const std::vector<std::string>& texts, Sink* sinkOut = nullptr) {
    Sink local;
    Sink& sink = sinkOut ? *sinkOut : local;
    Pipeline pipeline(model, options, sink.resultCallback(), sink.traceObserver());
    pipeline.submit(requests(texts));
    pipeline.waitIdle();
    std::lock_guard lock(sink.mutex);
    return sink.results;
}

double maxProbabilityDifference(const std::vector<RequestResult>& a, const std::vector<RequestResult>& b) {
    if (a.size() != b.size()) return INFINITY;
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i].classification.ok() || !b[i].classification.ok()) {
            qWarning("request %zu failed: '%s' / '%s'", i, a[i].classification.error.c_str(),
                     b[i].classification.error.c_str());
            return INFINITY;
        }
        for (size_t k = 0; k < a[i].classification.probabilities.size(); ++k)
            worst = std::max(
                worst, std::abs(a[i].classification.probabilities[k] - b[i].classification.probabilities[k]));
    }
    return worst;
}

} // namespace

class PipelineTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void resultsAreInOrderAndExactlyOnce();
    void oracleEqualsStandard();
    void sidaExactEqualsStandardUnderTightBudget();
    void budgetIsNeverExceeded();
    void batchNeedingMoreThanTheBudgetCompletes();
    void predictedExpertsAreCopiedAhead();
    void standardNeverEvicts();
    void sidaUsesAndReportsThePredictor();
    void paperPresetRunsNoRouterAndKeepsOnlyTheBatchsExperts();
    void invalidInputsGetErrorsInPlace();
    void inferenceFailureBecomesErrorResults();
    void cancelJobCancelsOnlyWhatHasNotRun();
    void shutdownUnderLoadLosesNothing();
    void settingsApplyBetweenBatches();
    void invalidSettingsAreRefused();

private:
    QTemporaryDir dir_;
    std::shared_ptr<Model> model_;
};

void PipelineTest::initTestCase() {
    QVERIFY(dir_.isValid());
    model_ = Model::load(test::fixtureWithPredictor(dir_), {.device = "cpu", .threads = 1});
    QVERIFY(model_->info().predictor.present);
}

void PipelineTest::resultsAreInOrderAndExactlyOnce() {
    Sink sink;
    PipelineOptions options{.policy = Policy::OnDemand, .batchSize = 3};
    Pipeline pipeline(model_, options, sink.resultCallback());
    const auto texts = sentences(25);
    std::vector<uint64_t> jobs;
    for (size_t first = 0; first < texts.size(); first += 7)
        jobs.push_back(pipeline.submit(
            requests({texts.begin() + first, texts.begin() + std::min(texts.size(), first + 7)}, first)));
    pipeline.waitIdle();
    std::lock_guard lock(sink.mutex);
    QCOMPARE(sink.results.size(), texts.size());
    for (size_t i = 0; i < sink.results.size(); ++i) {
        QCOMPARE(sink.results[i].tag, std::to_string(i));
        QVERIFY(sink.results[i].classification.ok());
        if (i > 0) QVERIFY(sink.results[i].requestId > sink.results[i - 1].requestId);
    }
    QCOMPARE(pipeline.stats().completed, uint64_t(texts.size()));
}

void PipelineTest::oracleEqualsStandard() {
    const auto texts = sentences(20);
    const auto standard = runAll(model_, {.policy = Policy::Standard, .batchSize = 4}, texts);
    const auto oracle = runAll(model_, {.policy = Policy::Oracle, .batchSize = 4}, texts);
    QCOMPARE(oracle.size(), standard.size());
    QVERIFY2(maxProbabilityDifference(standard, oracle) <= 1e-5,
             qPrintable(QString::number(maxProbabilityDifference(standard, oracle))));
}

// One expert slot (every copy waits), and a quarter and a half of the experts (copies made ahead
// on the copy thread, the window evicting experts needed later): always standard's output.
void PipelineTest::sidaExactEqualsStandardUnderTightBudget() {
    const auto texts = sentences(20);
    const auto standard = runAll(model_, {.policy = Policy::Standard, .batchSize = 4}, texts);
    for (const double fraction : {0.0, 0.25, 0.5}) {
        Sink sink;
        PipelineOptions options{.policy = Policy::SidaExact, .batchSize = 4};
        if (fraction > 0)
            options.deviceBudget = Budget::ofFraction(fraction);
        else
            options.deviceBudget = Budget::ofBytes(1);
        const auto exact = runAll(model_, options, texts, &sink);
        QVERIFY2(maxProbabilityDifference(standard, exact) <= 1e-5, qPrintable(QString::number(fraction)));
        for (size_t i = 0; i < texts.size(); ++i)
            QCOMPARE(exact[i].classification.label, standard[i].classification.label);
        std::lock_guard lock(sink.mutex);
        const ModelInfo& info = model_->info();
        const int64_t experts = info.totalExpertBytes / info.expertBytes;
        const auto slots = fraction > 0 ? static_cast<int64_t>(fraction * static_cast<double>(experts)) : 1;
        for (const auto& trace : sink.traces)
            QCOMPARE(trace->memory.budgetBytes, uint64_t(slots * info.expertBytes));
    }
}

// What the hash table predicts is copied in before its layer runs; what only the router knows is
// fetched once the layer is routed. The oracle predicts every expert: with room for a batch's
// working set, no layer fetches anything; ondemand fetches every copy it makes.
void PipelineTest::predictedExpertsAreCopiedAhead() {
    for (const Policy policy : {Policy::Oracle, Policy::OnDemand}) {
        Sink sink;
        runAll(model_, {.policy = policy, .batchSize = 2, .cacheAcrossBatches = false}, sentences(12, 9),
               &sink);
        std::lock_guard lock(sink.mutex);
        int64_t copied = 0, onDemand = 0;
        for (const auto& t : sink.traces)
            for (const LayerTrace& l : t->layers) {
                copied += static_cast<int64_t>(l.copiedIn.size());
                onDemand += l.fetchedOnDemand;
                if (policy == Policy::OnDemand) QCOMPARE(l.fetchedOnDemand, int64_t(l.copiedIn.size()));
            }
        QVERIFY(copied > 0);
        if (policy == Policy::Oracle) QCOMPARE(onDemand, int64_t(0));
    }
}

void PipelineTest::budgetIsNeverExceeded() {
    for (const Policy policy : {Policy::OnDemand, Policy::Sida, Policy::SidaExact}) {
        for (const Eviction eviction : {Eviction::Fifo, Eviction::Lru, Eviction::PlainFifo}) {
            Sink sink;
            PipelineOptions options{.policy = policy,
                                    .batchSize = 2,
                                    .deviceBudget = Budget::ofFraction(0.5),
                                    .eviction = eviction};
            runAll(model_, options, sentences(16, 5), &sink);
            std::lock_guard lock(sink.mutex);
            QVERIFY(!sink.traces.empty());
            for (const auto& t : sink.traces) {
                QVERIFY2(t->memory.residentExpertBytes <= t->memory.budgetBytes, policyName(policy).c_str());
                QCOMPARE(t->memory.budgetBytes, t->memory.allExpertBytes / 2);
                for (const LayerTrace& layer : t->layers)
                    QVERIFY(static_cast<int>(layer.resident.size()) <= layer.numExperts);
            }
        }
    }
}

// One slot for four experts per layer and top-4 predictions: experts are fetched in waves, and the
// results match the same policy with every expert resident.
void PipelineTest::batchNeedingMoreThanTheBudgetCompletes() {
    const auto texts = sentences(8);
    const auto full = runAll(model_, {.policy = Policy::Sida, .batchSize = 8, .topK = 4}, texts);
    Sink sink;
    const auto tight = runAll(
        model_, {.policy = Policy::Sida, .batchSize = 8, .topK = 4, .deviceBudget = Budget::ofBytes(1)},
        texts, &sink);
    QCOMPARE(tight.size(), texts.size());
    for (const auto& r : tight) QVERIFY(r.classification.ok());
    QVERIFY(maxProbabilityDifference(full, tight) <= 1e-5);
    std::lock_guard lock(sink.mutex);
    int64_t onDemand = 0;
    for (const auto& t : sink.traces)
        for (const LayerTrace& l : t->layers) onDemand += l.fetchedOnDemand;
    QVERIFY(onDemand > 0);
}

// Standard keeps every expert it has loaded, also when batches are told not to cache (the
// reference the other policies are measured against must not pay for copies).
void PipelineTest::standardNeverEvicts() {
    Sink sink;
    runAll(model_, {.policy = Policy::Standard, .batchSize = 1, .cacheAcrossBatches = false}, sentences(12),
           &sink);
    std::lock_guard lock(sink.mutex);
    QVERIFY(!sink.traces.empty());
    for (const auto& t : sink.traces)
        for (const LayerTrace& l : t->layers) QVERIFY(l.evicted.empty());
}

// The paper's setup: the hash table alone decides (no router runs, so no hit rate), nothing stays
// cached for a later batch, and the outputs are sida's own under any eviction.
void PipelineTest::paperPresetRunsNoRouterAndKeepsOnlyTheBatchsExperts() {
    const auto texts = sentences(12, 3);
    const PipelineOptions base{
        .policy = Policy::Sida, .batchSize = 3, .deviceBudget = Budget::ofFraction(0.5)};
    const PipelineOptions paper = paperPreset(base);
    QVERIFY(isPaperPreset(paper));
    QVERIFY(!isPaperPreset(base));
    QCOMPARE(paper.batchSize, base.batchSize);
    const auto sida = runAll(model_, base, texts);
    Sink sink;
    const auto paperResults = runAll(model_, paper, texts, &sink);
    QVERIFY(maxProbabilityDifference(sida, paperResults) <= 1e-5);
    std::lock_guard lock(sink.mutex);
    QVERIFY(!sink.traces.empty());
    for (const auto& t : sink.traces) {
        QVERIFY(t->memory.residentExpertBytes <= t->memory.budgetBytes);
        for (const LayerTrace& l : t->layers) {
            QVERIFY(l.router.empty());
            QCOMPARE(l.hits + l.misses, int64_t(0));
            const std::set<int32_t> predicted(l.predicted.begin(), l.predicted.end());
            for (int32_t e : l.resident)
                QVERIFY2(predicted.contains(e), "an expert no token of the batch uses stayed");
        }
    }
}

void PipelineTest::sidaUsesAndReportsThePredictor() {
    Sink sink;
    const auto results =
        runAll(model_, {.policy = Policy::Sida, .batchSize = 4, .topK = 2}, sentences(12), &sink);
    std::lock_guard lock(sink.mutex);
    int64_t hits = 0, misses = 0;
    for (const auto& t : sink.traces) {
        int64_t tokens = 0;
        for (const SequenceTrace& s : t->sequences) {
            QCOMPARE(s.firstToken, tokens);
            QCOMPARE(s.pieces.size(), s.tokenIds.size());
            tokens += static_cast<int64_t>(s.tokenIds.size());
        }
        QCOMPARE(t->tokens, tokens);
        for (const LayerTrace& l : t->layers) {
            QCOMPARE(l.topK, 2);
            QCOMPARE(l.predicted.size(), size_t(tokens * 2));
            QCOMPARE(l.router.size(), size_t(tokens));
            QCOMPARE(l.hits + l.misses, tokens);
            hits += l.hits;
            misses += l.misses;
        }
    }
    int64_t perRequest = 0;
    for (const auto& r : results) perRequest += r.predictorHits + r.predictorMisses;
    QCOMPARE(perRequest, hits + misses);
}

void PipelineTest::invalidInputsGetErrorsInPlace() {
    Sink sink;
    Pipeline pipeline(model_, {.policy = Policy::Standard, .batchSize = 2}, sink.resultCallback());
    const auto single = [](std::string text) { return Request{std::move(text), std::nullopt, ""}; };
    pipeline.submit({single("a good film"), single(""), single("bad \xff bytes"), single("   "),
                     Request{"another one", std::string("and its pair"), ""}});
    pipeline.waitIdle();
    std::lock_guard lock(sink.mutex);
    QCOMPARE(sink.results.size(), size_t(5));
    QVERIFY(sink.results[0].classification.ok());
    QVERIFY(sink.results[1].classification.error.find("empty") != std::string::npos);
    QVERIFY(sink.results[2].classification.error.find("UTF-8") != std::string::npos);
    QVERIFY(!sink.results[3].classification.ok());
    QVERIFY(sink.results[4].classification.ok());
    QCOMPARE(pipeline.stats().failed, uint64_t(3));
}

// A model without a classifier head: every batch fails inside the inference thread, and each of its
// requests gets an error result saying so; the pipeline keeps going.
void PipelineTest::inferenceFailureBecomesErrorResults() {
    QTemporaryDir dir;
    const auto headless = test::copyModel(test::fixture("hf/e4-step2-fp32"), dir);
    SafetensorsWriter writer;
    const SafetensorsFile original(headless / "model.safetensors");
    for (const TensorInfo& t : original.header().tensors)
        if (t.name.rfind("classifier.", 0) != 0) writer.add(t.name, t.dtype, t.shape, original.data(t));
    writer.write(headless / "model.safetensors.new");
    std::filesystem::rename(headless / "model.safetensors.new", headless / "model.safetensors");
    auto model = Model::load(headless, {.device = "cpu", .threads = 1});
    const auto results = runAll(model, {.policy = Policy::Standard, .batchSize = 3}, sentences(7));
    QCOMPARE(results.size(), size_t(7));
    for (const auto& r : results)
        QVERIFY(r.classification.error.find("inference failed") != std::string::npos);
}

void PipelineTest::cancelJobCancelsOnlyWhatHasNotRun() {
    Sink sink;
    std::atomic<uint64_t> victim{0};
    std::atomic<bool> cancelled{false};
    Pipeline* self = nullptr;
    Pipeline pipeline(model_, {.policy = Policy::OnDemand, .batchSize = 2, .hashQueueDepth = 1},
                      [&](const RequestResult& r) {
                          // Cancel the big job from inside the first result's callback: part of it
                          // has already run, the rest has not.
                          if (r.jobId == victim && !cancelled.exchange(true)) self->cancelJob(victim);
                          std::lock_guard lock(sink.mutex);
                          sink.results.push_back(r);
                      });
    self = &pipeline;
    victim = pipeline.submit(requests(sentences(40)));
    const uint64_t other = pipeline.submit(requests(sentences(3, 9), 40));
    pipeline.waitIdle();
    std::lock_guard lock(sink.mutex);
    QCOMPARE(sink.results.size(), size_t(43));
    size_t done = 0, stopped = 0;
    for (const auto& r : sink.results) {
        if (r.jobId == other) QVERIFY(r.classification.ok());
        if (r.jobId != victim) continue;
        if (r.cancelled) {
            ++stopped;
            QCOMPARE(r.classification.error, std::string("cancelled"));
        } else {
            ++done;
            QVERIFY(r.classification.ok());
        }
    }
    QVERIFY(done >= 1);
    QVERIFY(stopped >= 1);
    for (size_t i = 1; i < sink.results.size(); ++i)
        QVERIFY(sink.results[i].requestId > sink.results[i - 1].requestId);
}

// Destroying a busy pipeline cancels what is pending; every request still gets exactly one result.
void PipelineTest::shutdownUnderLoadLosesNothing() {
    for (int round = 0; round < 3; ++round) {
        Sink sink;
        size_t submitted = 0;
        {
            Pipeline pipeline(model_,
                              {.policy = round == 1 ? Policy::Sida : Policy::OnDemand,
                               .batchSize = 2,
                               .hashQueueDepth = 2,
                               .deviceBudget = Budget::ofFraction(0.5)},
                              sink.resultCallback(), sink.traceObserver());
            for (int job = 0; job < 5; ++job) {
                const auto batch = sentences(10, static_cast<uint64_t>(job + round));
                submitted += batch.size();
                pipeline.submit(requests(batch));
            }
            if (round == 2) pipeline.cancelAll();
        }
        std::lock_guard lock(sink.mutex);
        QCOMPARE(sink.results.size(), submitted);
        std::set<uint64_t> ids;
        for (const auto& r : sink.results) ids.insert(r.requestId);
        QCOMPARE(ids.size(), submitted);
    }
}

void PipelineTest::settingsApplyBetweenBatches() {
    Sink sink;
    Pipeline pipeline(model_, {.policy = Policy::OnDemand, .batchSize = 2}, sink.resultCallback(),
                      sink.traceObserver());
    pipeline.submit(requests(sentences(10)));
    pipeline.setOptions({.policy = Policy::Sida, .batchSize = 3});
    pipeline.submit(requests(sentences(9, 4), 10));
    pipeline.waitIdle();
    std::lock_guard lock(sink.mutex);
    QCOMPARE(sink.results.size(), size_t(19));
    bool switched = false;
    for (const auto& t : sink.traces) {
        // A batch is wholly one policy: its layers either all carry a prediction or none does.
        const bool predicted = !t->layers.front().predicted.empty();
        for (const LayerTrace& l : t->layers) QCOMPARE(!l.predicted.empty(), predicted);
        QCOMPARE(predicted, t->policy == Policy::Sida);
        if (t->policy == Policy::Sida) {
            switched = true;
            QVERIFY(t->sequences.size() <= 3);
        } else {
            QVERIFY2(!switched, "no batch may return to the old policy");
            QVERIFY(t->sequences.size() <= 2);
        }
    }
    QVERIFY(switched);
    QCOMPARE(pipeline.options().batchSize, 3);
}

void PipelineTest::invalidSettingsAreRefused() {
    auto refused = [&](PipelineOptions o, const char* word) {
        try {
            Pipeline pipeline(model_, o, [](const RequestResult&) {});
        } catch (const Error& e) {
            return std::string(e.what()).find(word) != std::string::npos;
        }
        return false;
    };
    QVERIFY(refused({.batchSize = 0}, "batch size"));
    QVERIFY(refused({.hashQueueDepth = -1}, "queue depth"));
    QVERIFY(refused({.hashQueueDepth = 1025}, "queue depth"));
    // Automatic: 16 inputs ahead, at least 4 tables; a depth given is kept.
    QCOMPARE(queueDepthFor({.batchSize = 1}), 16);
    QCOMPARE(queueDepthFor({.batchSize = 3}), 6);
    QCOMPARE(queueDepthFor({.batchSize = 8}), 4);
    QCOMPARE(queueDepthFor({.batchSize = 1, .hashQueueDepth = 7}), 7);
    QVERIFY(refused({.topK = 5}, "top-k"));
    QVERIFY(refused({.deviceBudget = Budget::ofFraction(1.5)}, "budget"));
    QVERIFY(refused({.policy = Policy::Oracle, .topK = 2}, "oracle"));
    const auto noPredictor = Model::load(test::fixture("hf/e4-step2-fp32"), {.device = "cpu", .threads = 1});
    try {
        Pipeline pipeline(noPredictor, {.policy = Policy::Sida}, [](const RequestResult&) {});
        QFAIL("sida without a predictor must be refused");
    } catch (const Error& e) {
        QVERIFY(std::string(e.what()).find("predictor") != std::string::npos);
    }
    QVERIFY_THROWS_EXCEPTION(Error, parsePolicy("fastest"));
}

QTEST_GUILESS_MAIN(PipelineTest)
#include "tst_pipeline.moc"
