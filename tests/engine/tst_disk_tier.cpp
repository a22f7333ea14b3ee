// SPDX-License-Identifier: MIT
// The disk tier: budgets in one syntax, the host cache over a fault-injecting reader (short reads,
// I/O errors, a file that shrinks mid-run), eviction by the queued batches' needs, Belady's
// optimum, and a serving pipeline that never exceeds either budget and survives its checkpoint
// being truncated. Also run under ThreadSanitizer (label `pipeline`): the host cache's I/O
// threads, the copy thread and the pipeline's two threads all meet here.
#include "model/model_impl.h"
#include "pipeline_sink.h"
#include "serving/budgets.h"
#include "serving/expert_store.h"
#include "serving/host_cache.h"
#include "serving/lookahead.h"
#include "test_support.h"

#include "sida/bench.h"
#include "sida/errors.h"
#include "sida/memory.h"
#include "sida/pipeline.h"

#include <QtTest>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>

using namespace sida;
using namespace sida::detail;
using sida::test::Sink;

namespace {

// An in-memory checkpoint file whose reads can be made to fail.
class FaultySource : public ByteSource {
public:
    enum class Fault { None, ShortRead, IoError };
    explicit FaultySource(std::vector<std::byte> file) : file_(std::move(file)) {}

    void read(const FileRange& range, std::byte* buffer) override {
        ++reads;
        const Fault fault = nextFault_.exchange(Fault::None);
        if (fault == Fault::IoError) throw Error("reading test file failed: Input/output error");
        const AlignedSpan span = alignedSpan(range);
        std::lock_guard lock(mutex_);
        const uint64_t end = std::min<uint64_t>(file_.size(), span.fileOffset + span.bufferBytes);
        const uint64_t needed = span.fileOffset + span.dataOffset + range.length;
        if (fault == Fault::ShortRead || end < needed)
            throw Error("reading test file failed: the file ends after " + std::to_string(end) + " bytes");
        std::memcpy(buffer, file_.data() + span.fileOffset, end - span.fileOffset);
    }
    std::string description() const override { return "test file"; }
    std::string describe(uint32_t) const override { return "test file"; }

    void failNext(Fault fault) { nextFault_ = fault; }
    void truncate(size_t size) {
        std::lock_guard lock(mutex_);
        file_.resize(size);
    }
    std::atomic<int> reads{0};

private:
    std::mutex mutex_;
    std::vector<std::byte> file_;
    std::atomic<Fault> nextFault_{Fault::None};
};

constexpr int64_t kExperts = 8, kLayers = 2, kRows = 4, kCols = 2;

// Expert (l, e)'s matrices filled with l * 100 + e, as float32, one after the other in a file.
std::vector<std::byte> expertFile() {
    std::vector<float> values;
    for (int64_t l = 0; l < kLayers; ++l)
        for (int64_t e = 0; e < kExperts; ++e)
            values.insert(values.end(), 2 * kRows * kCols, static_cast<float>(l * 100 + e));
    std::vector<std::byte> bytes(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
}

std::vector<ExpertSource> expertSources() {
    std::vector<ExpertSource> sources;
    const uint64_t matrix = kRows * kCols * sizeof(float);
    for (int64_t i = 0; i < kLayers * kExperts; ++i)
        sources.push_back(
            {{0, 2 * i * matrix, matrix}, {0, (2 * i + 1) * matrix, matrix}, at::kFloat, "wi", "wo"});
    return sources;
}

std::unique_ptr<HostCache> makeCache(std::shared_ptr<ByteSource> source, int64_t capacity) {
    auto cache = std::make_unique<HostCache>(expertSources(), kExperts, std::vector<int64_t>{kRows, kCols},
                                             std::vector<int64_t>{kCols, kRows}, std::move(source), false, 2);
    cache->setCapacity(capacity);
    return cache;
}

float valueOf(const HostExpert& expert) { return expert.wi.data_ptr<float>()[0]; }

} // namespace

class DiskTierTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void budgetsParseInOneSyntax();
    void budgetsRefuseAmbiguousOrBadText();
    void optimalReadsFollowBelady();
    void lookaheadOrdersNeedsByUse();
    void fileReadsAgreeAcrossIoModes();
    void hostCacheReadsAndKeepsWithinCapacity();
    void hostCacheReportsShortReadsAndIoErrors();
    void hostCacheEvictsWhatIsNeededFarthestAhead();
    void readAheadNeverEvictsASoonerNeed();
    void oracleHostCacheHoldsWhatTheRoutersRead();
    void pipelineStaysWithinBothBudgets();
    void truncatedCheckpointFailsOnlyTheBatchesThatRead();
    void benchReportsTheDiskTier();

private:
    QTemporaryDir dir_;
    std::shared_ptr<Model> model_; ///< a fixture with a predictor, so that every policy runs
};

void DiskTierTest::initTestCase() {
    QVERIFY(dir_.isValid());
    model_ = Model::load(test::fixtureWithPredictor(dir_), {.device = "cpu", .threads = 1});
}

void DiskTierTest::budgetsParseInOneSyntax() {
    QVERIFY(parseBudget("auto", "x") == Budget::automatic());
    QVERIFY(parseBudget("50%", "x") == Budget::ofFraction(0.5));
    QVERIFY(parseBudget("0.25", "x") == Budget::ofFraction(0.25));
    QVERIFY(parseBudget("1", "x") == Budget::ofFraction(1.0));
    QVERIFY(parseBudget("2GiB", "x") == Budget::ofBytes(int64_t{2} << 30));
    QVERIFY(parseBudget("512MiB", "x") == Budget::ofBytes(int64_t{512} << 20));
    QVERIFY(parseBudget("1.5GB", "x") == Budget::ofBytes(1'500'000'000));
    QVERIFY(parseBudget(" 64 KiB ", "x") == Budget::ofBytes(64 << 10));
    for (const char* text : {"auto", "50%", "2.00GiB", "512MiB"})
        QCOMPARE(budgetText(parseBudget(text, "x")), std::string(text));
    QCOMPARE(budgetBytes(Budget::ofFraction(0.5), 1000), int64_t{500});
    QCOMPARE(budgetBytes(Budget::ofBytes(7), 1000), int64_t{7});
    QCOMPARE(budgetBytes(Budget::automatic(), 1000), int64_t{1000});
}

void DiskTierTest::budgetsRefuseAmbiguousOrBadText() {
    // A bare number above 1 could be a percentage or bytes: refused, saying how to write both.
    QVERIFY(test::errorProblem([] { parseBudget("10", "--budget"); }, {"--budget", "'10'", "10%", "10GiB"})
                .isEmpty());
    QVERIFY(
        test::errorProblem([] { parseBudget("150%", "--host-budget"); }, {"--host-budget", "more than 100%"})
            .isEmpty());
    QVERIFY(test::errorProblem([] { parseBudget("1.5", "--budget"); }, {"more than 1"}).isEmpty());
    QVERIFY(test::errorProblem([] { parseBudget("2XB", "--budget"); }, {"unknown unit 'XB'"}).isEmpty());
    for (const char* bad : {"", "0", "-5%", "abc", "nan", "0%"})
        QVERIFY2(test::errorProblem([&] { parseBudget(bad, "--budget"); }, {"--budget"}).isEmpty(), bad);
}

void DiskTierTest::optimalReadsFollowBelady() {
    // The textbook sequence 1 2 3 4 1 2 5 1 2 3 4 5 with 3 slots: Belady reads 7 times.
    const std::vector<std::vector<int64_t>> needs{{1, 2, 3}, {4, 1, 2}, {5, 1, 2}, {3, 4, 5}};
    QCOMPARE(optimalReadBytes(needs, 3, 10), uint64_t{70});
    // Room for everything: each expert once. One slot: every change of expert.
    QCOMPARE(optimalReadBytes(needs, 5, 1), uint64_t{5});
    QCOMPARE(optimalReadBytes({{1, 1, 2}, {2, 1}}, 1, 1), uint64_t{3});
    QCOMPARE(optimalReadBytes({}, 4, 1), uint64_t{0});
}

void DiskTierTest::lookaheadOrdersNeedsByUse() {
    Lookahead lookahead(kExperts, static_cast<int>(kLayers));
    const uint64_t first = lookahead.add({{3, 5}, {1}});
    lookahead.add({{5, 7}, {}});
    const LookaheadView view = lookahead.view();
    QCOMPARE(view.batches(), size_t{2});
    QVERIFY(view.nextUse({0, 3}) < view.nextUse({0, 5}));
    QVERIFY(view.nextUse({0, 5}) < view.nextUse({1, 1}));
    QVERIFY(view.nextUse({1, 1}) < view.nextUse({0, 7}));
    QCOMPARE(view.nextUse({1, 2}), kNever);
    QCOMPARE(view.nextUse({0, 3}, 1), kNever);
    const std::vector<ExpertKey> order{{0, 3}, {0, 5}, {1, 1}, {0, 7}};
    QVERIFY(view.inOrder() == order);
    lookahead.remove(first);
    QCOMPARE(lookahead.view().batches(), size_t{1});
    QCOMPARE(lookahead.view().nextUse({1, 1}), kNever);
}

void DiskTierTest::fileReadsAgreeAcrossIoModes() {
    // A file of a few io_uring chunks and an odd tail, so that spans cross chunk boundaries and
    // run past the end of the file.
    const QString path = dir_.filePath("bytes.bin");
    std::vector<std::byte> content(3 * 1024 * 1024 + 1234);
    std::mt19937 rng(11);
    for (std::byte& b : content) b = static_cast<std::byte>(rng());
    {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QCOMPARE(file.write(reinterpret_cast<const char*>(content.data()), qint64(content.size())),
                 qint64(content.size()));
    }
    const std::vector<FileRange> ranges{{0, 0, 100},
                                        {0, 4095, 2},
                                        {0, 777, 2'000'000},
                                        {0, 1'048'576, 1'048'576},
                                        {0, content.size() - 5000, 5000}};
    for (const IoMode mode : {IoMode::Pread, IoMode::Uring}) {
        for (const bool direct : {false, true}) {
            FileByteSource source({path.toStdString()}, {content.size()}, direct, mode);
            const std::string how = source.description();
            QVERIFY2(how.find(mode == IoMode::Uring ? "io_uring" : "pread") != std::string::npos,
                     how.c_str());
            for (const FileRange& range : ranges) {
                const AlignedSpan span = alignedSpan(range);
                std::unique_ptr<std::byte, decltype(&std::free)> buffer(
                    static_cast<std::byte*>(std::aligned_alloc(kDirectAlignment, span.bufferBytes)),
                    &std::free);
                source.read(range, buffer.get());
                QVERIFY2(std::memcmp(buffer.get() + span.dataOffset, content.data() + range.offset,
                                     range.length) == 0,
                         (how + " at " + std::to_string(range.offset)).c_str());
            }
        }
    }
    // Cut short after opening: both modes refuse with the same message.
    FileByteSource pread({path.toStdString()}, {content.size()}, true, IoMode::Pread);
    FileByteSource uring({path.toStdString()}, {content.size()}, true, IoMode::Uring);
    QVERIFY(QFile::resize(path, 4096));
    for (FileByteSource* source : {&pread, &uring}) {
        std::unique_ptr<std::byte, decltype(&std::free)> buffer(
            static_cast<std::byte*>(std::aligned_alloc(kDirectAlignment, 8192)), &std::free);
        QVERIFY(test::errorProblem(
                    [&] {
                        source->read({0, 0, 8000}, buffer.get());
                    },
                    {"bytes.bin", "changed under the engine", "reopen the model"})
                    .isEmpty());
    }
    QVERIFY(test::errorProblem([] { parseIoMode("mmap", "--io"); }, {"--io", "'mmap'", "uring or pread"})
                .isEmpty());
}

void DiskTierTest::hostCacheReadsAndKeepsWithinCapacity() {
    auto source = std::make_shared<FaultySource>(expertFile());
    auto cache = makeCache(source, 3);
    std::mt19937 rng(5);
    const LookaheadView none;
    for (int i = 0; i < 200; ++i) {
        const ExpertKey key{static_cast<int>(rng() % kLayers), static_cast<int64_t>(rng() % kExperts)};
        if (rng() % 3 == 0) {
            cache->readAhead({key, {key.layer, (key.expert + 1) % kExperts}}, none, /*imminent=*/true);
        } else {
            const auto bytes = cache->get(key, none);
            QCOMPARE(valueOf(*bytes), static_cast<float>(key.layer * 100 + key.expert));
            QCOMPARE(bytes->wo.sizes().vec(), (std::vector<int64_t>{kCols, kRows}));
        }
        QVERIFY(cache->counters().entries <= 3);
    }
    const auto c = cache->counters();
    QCOMPARE(c.bytesRead, c.reads * static_cast<uint64_t>(cache->entryBytes()));
    QVERIFY(c.reads >= 3);
}

void DiskTierTest::hostCacheReportsShortReadsAndIoErrors() {
    auto source = std::make_shared<FaultySource>(expertFile());
    auto cache = makeCache(source, 4);
    const LookaheadView none;
    source->failNext(FaultySource::Fault::ShortRead);
    QVERIFY(test::errorProblem([&] { cache->get({0, 1}, none); }, {"test file", "ends after"}).isEmpty());
    source->failNext(FaultySource::Fault::IoError);
    QVERIFY(test::errorProblem([&] { cache->get({0, 1}, none); }, {"Input/output error"}).isEmpty());
    // A failed read is not remembered: the next use reads again, and succeeds.
    QCOMPARE(valueOf(*cache->get({0, 1}, none)), 1.0f);
    // A file cut short mid-run: what is still cached serves; what must be read fails.
    source->truncate(100);
    QCOMPARE(valueOf(*cache->get({0, 1}, none)), 1.0f);
    QVERIFY(test::errorProblem([&] { cache->get({1, 7}, none); }, {"ends after 100 bytes"}).isEmpty());
}

void DiskTierTest::hostCacheEvictsWhatIsNeededFarthestAhead() {
    auto source = std::make_shared<FaultySource>(expertFile());
    auto cache = makeCache(source, 2);
    Lookahead lookahead(kExperts, static_cast<int>(kLayers));
    lookahead.add({{2}, {}});
    lookahead.add({{1}, {}});
    const LookaheadView view = lookahead.view();
    cache->get({0, 1}, view);
    cache->get({0, 2}, view);
    // Expert 3 is needed now: expert 1 goes (needed after 2), although 1 was read first.
    cache->get({0, 3}, view);
    const std::vector<int32_t> kept = cache->cachedExperts(0);
    QVERIFY(std::find(kept.begin(), kept.end(), 2) != kept.end());
    QVERIFY(std::find(kept.begin(), kept.end(), 1) == kept.end());
}

void DiskTierTest::readAheadNeverEvictsASoonerNeed() {
    auto source = std::make_shared<FaultySource>(expertFile());
    auto cache = makeCache(source, 2);
    Lookahead lookahead(kExperts, static_cast<int>(kLayers));
    lookahead.add({{1, 2}, {}});
    lookahead.add({{3}, {}});
    const LookaheadView view = lookahead.view();
    cache->readAhead(view.inOrder(), view);
    cache->get({0, 1}, view);
    cache->get({0, 2}, view);
    const int readsBefore = source->reads;
    // Expert 3 (the second batch) would have to push out 1 or 2 (the first): it waits.
    cache->readAhead(view.inOrder(), view);
    QCOMPARE(source->reads.load(), readsBefore);
    QCOMPARE(cache->cachedExperts(0), (std::vector<int32_t>{1, 2}));
}

// With automatic budgets and a pool that holds every expert, the host cache only stages reads,
// unless the oracle's hash thread runs the routers on experts read through it.
void DiskTierTest::oracleHostCacheHoldsWhatTheRoutersRead() {
    const auto model = Model::load(test::fixture("hf/e8-step1-bias-fp32"), {.device = "cpu", .threads = 1});
    const ExpertStore& store = *model->impl().experts;
    QVERIFY(store.totalExperts() > 8);
    const CacheSizes staging =
        resolveCacheSizes(Budget::automatic(), Budget::automatic(), false, false, store);
    QCOMPARE(staging.poolSlots, store.totalExperts());
    QCOMPARE(staging.hostEntries, int64_t(8));
    const CacheSizes oracle = resolveCacheSizes(Budget::automatic(), Budget::automatic(), false, true, store);
    QCOMPARE(oracle.hostEntries, store.totalExperts());
}

void DiskTierTest::pipelineStaysWithinBothBudgets() {
    const auto texts = test::syntheticSentences(24, 11);
    for (const Policy policy : {Policy::OnDemand, Policy::Sida, Policy::SidaExact}) {
        for (const double share : {0.125, 0.5}) {
            Sink c;
            {
                Pipeline pipeline(model_,
                                  {.policy = policy,
                                   .batchSize = 3,
                                   .deviceBudget = Budget::ofFraction(share),
                                   .hostBudget = Budget::ofFraction(share)},
                                  c.resultCallback(), c.traceObserver());
                std::vector<Request> requests;
                for (const auto& t : texts) requests.push_back({t, {}, ""});
                pipeline.submit(std::move(requests));
                pipeline.waitIdle();
            }
            QCOMPARE(c.results.size(), texts.size());
            for (const RequestResult& r : c.results)
                QVERIFY2(r.classification.ok(), r.classification.error.c_str());
            QVERIFY(!c.traces.empty());
            for (const auto& t : c.traces) {
                const MemoryTrace& m = t->memory;
                QVERIFY(m.residentExpertBytes <= m.budgetBytes);
                QVERIFY(m.hostResidentBytes <= m.hostBudgetBytes);
                QVERIFY(m.hostBudgetBytes <=
                        static_cast<uint64_t>(share * static_cast<double>(m.allExpertStoredBytes)) + 1);
                QVERIFY(m.budgetBytes <=
                        static_cast<uint64_t>(share * static_cast<double>(m.allExpertBytes)) + 1);
                QVERIFY(!m.io.empty());
            }
        }
    }
}

void DiskTierTest::truncatedCheckpointFailsOnlyTheBatchesThatRead() {
    const auto folder = test::copyModel(test::fixture("hf/e4-step2-fp32"), dir_, "truncated");
    const auto model = Model::load(folder, {.device = "cpu", .threads = 1});
    Sink c;
    Pipeline pipeline(model,
                      {.policy = Policy::OnDemand,
                       .batchSize = 2,
                       .deviceBudget = Budget::ofBytes(1),
                       .hostBudget = Budget::ofBytes(1)},
                      c.resultCallback());
    const auto texts = test::syntheticSentences(6, 3);
    std::vector<Request> first;
    for (const auto& t : texts) first.push_back({t, {}, "before"});
    pipeline.submit(first);
    pipeline.waitIdle();
    // Cut the file in half under the engine: every later read fails, no SIGBUS, no lost result.
    std::filesystem::resize_file(folder / "model.safetensors",
                                 std::filesystem::file_size(folder / "model.safetensors") / 2);
    std::vector<Request> second;
    for (const auto& t : texts) second.push_back({t, {}, "after"});
    pipeline.submit(second);
    pipeline.waitIdle();
    QCOMPARE(c.results.size(), 2 * texts.size());
    int failedAfter = 0;
    for (const RequestResult& r : c.results) {
        if (r.tag == "before") QVERIFY2(r.classification.ok(), r.classification.error.c_str());
        if (r.tag == "after" && !r.classification.ok()) {
            ++failedAfter;
            QVERIFY2(r.classification.error.find("changed under the engine") != std::string::npos,
                     r.classification.error.c_str());
        }
    }
    // One expert cached at each tier: the next batch must read, so it fails.
    QVERIFY(failedAfter > 0);
}

void DiskTierTest::benchReportsTheDiskTier() {
    std::vector<BenchInput> inputs;
    for (const auto& t : test::syntheticSentences(16, 2)) inputs.push_back({{t, {}}, std::nullopt});
    BenchOptions options;
    options.policies = {Policy::OnDemand, Policy::Sida};
    options.warmupBatches = 1;
    options.pipeline = {
        .batchSize = 4, .deviceBudget = Budget::ofFraction(0.25), .hostBudget = Budget::ofFraction(0.5)};
    const BenchReport report = runBench(model_, inputs, options);
    QCOMPARE(report.runs.size(), size_t{2});
    for (const BenchRun& r : report.runs) {
        QCOMPARE(r.errors, int64_t{0});
        QVERIFY(r.diskBytesRead > 0);
        // Even the optimum reads every expert it uses once.
        QVERIFY(r.diskBytesReadOptimal > 0);
        QVERIFY(r.hostBudgetBytes > 0);
        QVERIFY(r.peakRssBytes > 0);
        QVERIFY(r.diskReadSecondsExposed >= 0 && r.diskReadSecondsHidden >= 0);
    }
    const std::string json = benchReportToJson(report);
    for (const char* field :
         {"host_budget_bytes", "disk_bytes_read", "disk_read_seconds_exposed", "disk_read_seconds_hidden",
          "peak_rss_bytes", "disk_bytes_read_optimal", "memory_limit_bytes", "queue_depth", "\"io\""})
        QVERIFY2(json.find(field) != std::string::npos, field);
}

QTEST_GUILESS_MAIN(DiskTierTest)
#include "tst_disk_tier.moc"
