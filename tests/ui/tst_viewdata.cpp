// SPDX-License-Identifier: MIT
// The value types each view draws from, without widgets: the hash-table grid, the expert-strip
// geometry from 8 to 256 experts, expert activity, memory and throughput series, predictor hit rates
// and confusion, sparsity by sentence length, the event-loop probe's statistics, and the colours.
#include "event_loop_probe.h"
#include "expert_activity.h"
#include "expert_palette.h"
#include "expert_strip_layout.h"
#include "hash_table_grid.h"
#include "predictor_stats.h"
#include "sparsity_stats.h"
#include "synthetic_traces.h"
#include "time_series.h"

#include <QtTest>

#include <set>

using namespace sida;
using namespace sida::ui;
using namespace Qt::StringLiterals;

class ViewDataTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void hashGridIsTokensByLayers() {
        test::TraceShape shape;
        shape.lengths = {5, 3};
        shape.layers = 3;
        const TracePtr trace = test::makeTrace(shape);
        const HashTableGrid grid = HashTableGrid::fromTrace(*trace, 1);
        QCOMPARE(grid.tokenCount(), 3);
        QCOMPARE(grid.layerCount(), 3);
        QCOMPARE(grid.numExperts(), 8);
        QCOMPARE(grid.requestId(), 2u);
        QCOMPARE(grid.tokenLabel(0), u"word0"_s);
        QCOMPARE(grid.tokenLabel(2), u"</s>"_s);
        QCOMPARE(grid.layerLabel(2), u"layer 2 (block 5)"_s);
        for (int l = 0; l < 3; ++l)
            for (int t = 0; t < 3; ++t) {
                QCOMPARE(grid.colourExpert(t, l), test::predictedExpert(t, l, 8));
                QCOMPARE(grid.isMiss(t, l), t == 0);
            }
        QCOMPARE(grid.missCells().size(), size_t(3));
        QCOMPARE(grid.hitRate(), 6.0 / 9.0);
        QVERIFY(grid.title().contains(u"word0 word1"_s));
    }

    void hashGridDescribesACell() {
        test::TraceShape shape;
        const HashTableGrid grid = HashTableGrid::fromTrace(*test::makeTrace(shape), 0);
        const QString miss = grid.describe(3, 1);
        QVERIFY2(miss.contains(u"Predicted top-2: expert 5 (70.0%), expert 6 (15.0%)"_s), qPrintable(miss));
        QVERIFY2(miss.contains(u"Router: expert 6 (60.0%) <b>miss</b>"_s), qPrintable(miss));
        QVERIFY(grid.describe(1, 1).contains(u" hit"_s));
        QVERIFY(grid.describe(99, 0).isEmpty());
    }

    void hashGridWithoutPredictionUsesTheExpertThatRan() {
        test::TraceShape shape;
        shape.prediction = false;
        const HashTableGrid grid = HashTableGrid::fromTrace(*test::makeTrace(shape), 0);
        QVERIFY(!grid.hasPrediction());
        QCOMPARE(grid.colourExpert(0, 0), test::routerExpert(0, 0, 8));
        QVERIFY(grid.missCells().empty());
        QCOMPARE(grid.hitRate(), -1.0);
        QVERIFY(grid.describe(0, 0).contains(u"No prediction"_s));
    }

    void hashGridFindsRequestsAndRejectsBadIndices() {
        const TracePtr trace = test::makeTrace({});
        QCOMPARE(HashTableGrid::sequenceOfRequest(*trace, 2), 1);
        QCOMPARE(HashTableGrid::sequenceOfRequest(*trace, 99), -1);
        QVERIFY(HashTableGrid::fromTrace(*trace, 5).isEmpty());
        QVERIFY(HashTableGrid::fromTrace(*trace, -1).isEmpty());
    }

    void expertStripsStayReadable_data() {
        QTest::addColumn<int>("experts");
        QTest::addColumn<double>("width");
        QTest::newRow("8 wide") << 8 << 900.0;
        QTest::newRow("64") << 64 << 900.0;
        QTest::newRow("128") << 128 << 900.0;
        QTest::newRow("256") << 256 << 900.0;
        QTest::newRow("256 narrow") << 256 << 420.0;
    }

    void expertStripsStayReadable() {
        QFETCH(int, experts);
        QFETCH(double, width);
        const ExpertStripMetrics metrics;
        const ExpertStripLayout layout(width, 4, experts, metrics);
        QVERIFY(layout.cellSize() >= metrics.minCell);
        QVERIFY(layout.cellSize() <= metrics.maxCell);
        QVERIFY(layout.cellsPerRow() == experts || layout.cellsPerRow() % 8 == 0);
        QCOMPARE(layout.rowsPerStrip(), (experts + layout.cellsPerRow() - 1) / layout.cellsPerRow());
        std::set<std::pair<double, double>> corners;
        for (int l = 0; l < 4; ++l)
            for (int e = 0; e < experts; ++e) {
                const QRectF cell = layout.cellRect(l, e);
                QVERIFY2(cell.right() <= width,
                         qPrintable(QStringLiteral("expert %1 ends at %2").arg(e).arg(cell.right())));
                QVERIFY(cell.bottom() <= layout.contentHeight());
                QVERIFY(layout.stripRect(l).contains(cell.center()));
                QVERIFY(corners.insert({cell.left(), cell.top()}).second); // no two cells overlap
                const auto hit = layout.cellAt(cell.center());
                QVERIFY(hit);
                QCOMPARE(hit->layer, l);
                QCOMPARE(hit->expert, e);
            }
        QVERIFY(!layout.cellAt(QPointF(1, 1)));
    }

    void eightExpertsFitOneRow() {
        const ExpertStripLayout layout(900, 2, 8);
        QCOMPARE(layout.rowsPerStrip(), 1);
        QCOMPARE(layout.cellSize(), ExpertStripMetrics{}.maxCell);
    }

    void expertActivityAccumulates() {
        ExpertActivity activity;
        activity.reset({1, 3}, 8);
        test::TraceShape shape;
        activity.add(*test::makeTrace(shape));
        activity.add(*test::makeTrace(shape));
        QCOMPARE(activity.batches(), 2u);
        const auto& layer = activity.layers()[0];
        int64_t total = 0;
        for (int64_t u : layer.usage) total += u;
        QCOMPARE(total, 2 * 8); // two batches of 8 tokens
        QCOMPARE(activity.residentCount(0), 4);
        QVERIFY(layer.copiedIn[0]);
        QVERIFY(layer.evicted[7]);
        QVERIFY(!layer.evicted[0]);
        QCOMPARE(activity.usageShare(0, 0), 1.0);
        QVERIFY(activity.describe(0, 0).contains(u"In the device pool (RAM pool (CPU))"_s));
        QVERIFY(activity.describe(0, 7).contains(u"Evicted"_s));
    }

    void expertActivityPlacesEachExpertInItsTier() {
        ExpertActivity activity;
        activity.reset({1, 3}, 8);
        // Before any batch no expert has been read.
        QCOMPARE(activity.tier(0, 0), ExpertTier::Disk);
        test::TraceShape shape;
        const TracePtr trace = test::makeTrace(shape);
        activity.add(*trace);
        QCOMPARE(activity.poolName(), u"RAM pool (CPU)"_s);
        QCOMPARE(activity.hostName(), u"host RAM cache"_s);
        // Pool: 0-3 (0 also cached); host cache only: 4, 5; disk only: 6, 7.
        QCOMPARE(activity.tier(0, 0), ExpertTier::Pool);
        QCOMPARE(activity.tier(1, 3), ExpertTier::Pool);
        QCOMPARE(activity.tier(0, 4), ExpertTier::Host);
        QCOMPARE(activity.tier(1, 5), ExpertTier::Host);
        QCOMPARE(activity.tier(0, 6), ExpertTier::Disk);
        QCOMPARE(activity.tier(1, 7), ExpertTier::Disk);
        QCOMPARE(activity.tierCount(0, ExpertTier::Pool), 4);
        QCOMPARE(activity.tierCount(0, ExpertTier::Host), 2);
        QCOMPARE(activity.tierCount(0, ExpertTier::Disk), 2);
        QCOMPARE(activity.describe(0, 0).count(u"RAM pool (CPU)"_s), 1);
        QVERIFY2(activity.describe(0, 0).contains(u"also in the host cache"_s),
                 qPrintable(activity.describe(0, 0)));
        QVERIFY(!activity.describe(0, 1).contains(u"host cache"_s));
        QVERIFY2(activity.describe(0, 4).contains(u"host cache (host RAM cache) only"_s),
                 qPrintable(activity.describe(0, 4)));
        QVERIFY(activity.describe(0, 6).contains(u"On disk only"_s));
        for (int e = 0; e < 8; ++e) QVERIFY(!activity.describe(0, e).contains(u"GPU"_s));

        // The next batch moves experts between tiers: the pool is emptied, expert 7 is cached.
        BatchTrace next = *trace;
        for (LayerTrace& layer : next.layers) {
            layer.resident.clear();
            layer.hostCached = {7};
        }
        activity.add(next);
        QCOMPARE(activity.tier(0, 0), ExpertTier::Disk);
        QCOMPARE(activity.tier(0, 4), ExpertTier::Disk);
        QCOMPARE(activity.tier(0, 7), ExpertTier::Host);
        QCOMPARE(activity.tierCount(1, ExpertTier::Disk), 7);
    }

    void expertActivityNamesTheGpuTiersOnCuda() {
        ExpertActivity activity;
        test::TraceShape shape;
        shape.cuda = true;
        activity.add(*test::makeTrace(shape));
        QCOMPARE(activity.poolName(), u"GPU memory (cuda:0)"_s);
        QVERIFY(activity.describe(0, 1).contains(u"GPU memory (cuda:0)"_s));
        QVERIFY(activity.describe(0, 5).contains(u"pinned host RAM"_s));
    }

    void expertActivityAdaptsToAnotherModel() {
        ExpertActivity activity;
        activity.reset({1}, 4);
        test::TraceShape shape;
        shape.experts = 16;
        shape.layers = 3;
        activity.add(*test::makeTrace(shape));
        QCOMPARE(activity.experts(), 16);
        QCOMPARE(activity.layers().size(), size_t(3));
    }

    void memorySeriesOnCpuIsTheRamPool() {
        MemorySeries series(3);
        test::TraceShape shape;
        for (int i = 0; i < 5; ++i) {
            shape.startedSeconds = i;
            series.add(*test::makeTrace(shape));
        }
        QCOMPARE(series.points().size(), size_t(3));
        QCOMPARE(series.added(), 5u);
        QCOMPARE(series.tier(), u"RAM pool (CPU)"_s);
        QVERIFY(!series.tier().contains(u"GPU"_s));
        const MemoryPoint& p = series.points().back();
        QCOMPARE(p.seconds, 4.01);
        QCOMPARE(p.otherBytes, 0.0);
        QCOMPARE(p.expertsTop(), double((1 << 20) + 8 * 1024));
        QCOMPARE(p.allResidentLine(), double((1 << 20) + 16 * 1024));
        QCOMPARE(series.maxBytes(), p.allResidentLine());
    }

    void memorySeriesCarriesTheHostCacheAndTheDisk() {
        MemorySeries series(2);
        test::TraceShape shape; // 2 layers x 8 experts
        for (int i = 0; i < 3; ++i) {
            shape.startedSeconds = i;
            shape.diskBytesRead = (i + 1) * 1000u;
            shape.diskReadExposedMs = 10.0 * (i + 1);
            shape.diskReadHiddenMs = 100.0;
            series.add(*test::makeTrace(shape));
        }
        QCOMPARE(series.hostTier(), u"host RAM cache"_s);
        QCOMPARE(series.io(), u"pread, O_DIRECT"_s);
        const MemoryPoint& p = series.points().back();
        QCOMPARE(p.hostResidentBytes, double(2 * (2 + 1) * 2048)); // a quarter of 8, plus expert 0
        QCOMPARE(p.hostBudgetBytes, double(8 * 2048));
        QCOMPARE(p.allExpertStoredBytes, double(16 * 2048));
        QCOMPARE(p.processResidentBytes, double(300 << 20));
        QCOMPARE(p.diskBytesRead, 3000.0);
        QCOMPARE(p.diskReadExposedMs, 30.0);
        QCOMPARE(p.diskReadMs(), 130.0);
        QCOMPARE(series.maxHostBytes(), double(16 * 2048));
        // The window holds the last two batches; the totals count every batch.
        QCOMPARE(series.maxDiskBytesRead(), 3000.0);
        QCOMPARE(series.maxDiskReadMs(), 130.0);
        QCOMPARE(series.diskTotals().bytesRead, 6000.0);
        QCOMPARE(series.diskTotals().exposedMs, 60.0);
        QCOMPARE(series.diskTotals().hiddenMs, 300.0);
        series.clear();
        QCOMPARE(series.diskTotals().bytesRead, 0.0);
        QCOMPARE(series.maxDiskBytesRead(), 0.0);
    }

    void memorySeriesOnCudaNamesThePinnedHostCache() {
        MemorySeries series;
        test::TraceShape shape;
        shape.cuda = true;
        series.add(*test::makeTrace(shape));
        QCOMPARE(series.hostTier(), u"pinned host RAM"_s);
    }

    void memorySeriesOnCudaSplitsTheAllocator() {
        MemorySeries series;
        test::TraceShape shape;
        shape.cuda = true;
        const MemoryPoint& p = series.add(*test::makeTrace(shape));
        QVERIFY(series.isCuda());
        QCOMPARE(series.tier(), u"GPU memory (cuda:0)"_s);
        QCOMPARE(p.otherBytes, double(1 << 19));
    }

    void throughputIsMeasuredOverAWindow() {
        ThroughputSeries series(100, 1.0);
        test::TraceShape shape;
        shape.lengths = {4, 4};
        shape.totalMs = 100.0;
        shape.startedSeconds = 0.0;
        ThroughputPoint p = series.add(*test::makeTrace(shape));
        QCOMPARE(p.samplesPerSecond, 20.0); // 2 samples in 0.1 s
        QCOMPARE(p.tokensPerSecond, 80.0);
        QCOMPARE(p.batchLatencyMs, 100.0);
        QCOMPARE(p.hashQueueDepth, 2.0);
        shape.startedSeconds = 0.1;
        p = series.add(*test::makeTrace(shape));
        QCOMPARE(p.samplesPerSecond, 20.0); // 4 samples in 0.2 s
        QCOMPARE(p.bytesCopiedPerSecond, 2 * 4096 / 0.2);
        shape.startedSeconds = 10.0; // after a pause only the new batch counts
        p = series.add(*test::makeTrace(shape));
        QCOMPARE(p.samplesPerSecond, 20.0);
        QCOMPARE(series.points().size(), size_t(3));
    }

    void predictorStatsCountHitsAndConfusion() {
        PredictorStats stats;
        test::TraceShape shape;
        shape.lengths = {6};
        stats.add(*test::makeTrace(shape));
        QCOMPARE(stats.layers().size(), size_t(2));
        const auto& layer = stats.layers()[0];
        QCOMPARE(layer.compared, 6);
        QCOMPARE(layer.top1Hits, 4); // tokens 0 and 3 miss
        QCOMPARE(layer.topKHits, 6); // the router's choice is the predicted second
        QCOMPARE(layer.top1Rate(), 4.0 / 6.0);
        QCOMPARE(layer.topKRate(), 1.0);
        QCOMPARE(layer.count(0, 1), 1); // token 0: predicted 0, router 1
        QCOMPARE(layer.count(1, 1), 1);
        QCOMPARE(stats.top1Rate(), 4.0 / 6.0);
        shape.router = false;
        stats.add(*test::makeTrace(shape));
        QCOMPARE(stats.compared(), 12); // nothing to compare without a router
    }

    void sparsityByLength() {
        SparsityStats stats;
        test::TraceShape shape;
        shape.prediction = false; // the router decides
        shape.lengths = {2, 6};
        shape.layers = 2;
        shape.experts = 8;
        stats.add(*test::makeTrace(shape));
        QCOMPARE(stats.sentences(), 2);
        const auto points = stats.byLength();
        QCOMPARE(points.size(), size_t(2));
        QCOMPARE(points[0].length, 2.0);
        // Length 2, layer 0: router experts 1 (t=0) and 1 (t=1) -> 1 distinct of 8.
        QCOMPARE(points[0].idleFraction[0], 7.0 / 8.0);
        // Length 6, layer 0: experts 1,1,2,4,4,5 -> 4 distinct.
        QCOMPARE(points[1].idleFraction[0], 4.0 / 8.0);
        QVERIFY(points[1].effectiveUse > points[0].effectiveUse);
        QCOMPARE(points[0].effectiveUse + points[0].meanIdleFraction, 1.0);
        int64_t routed = 0;
        for (int64_t u : stats.usage(1)) routed += u;
        QCOMPARE(routed, 8);
        const auto binned = stats.byLength(10);
        QCOMPARE(binned.size(), size_t(1));
        QCOMPARE(binned[0].sentences, 2);
        QCOMPARE(binned[0].length, 4.0);
        QCOMPARE(stats.binWidthFor(3), 2);
    }

    void probeSummarizesLateness() {
        const auto s = EventLoopProbe::summarize({0.0, 1.0, 2.0, 3.0, 10.0});
        QCOMPARE(s.samples, 5);
        QCOMPARE(s.meanMs, 3.2);
        QCOMPARE(s.p50Ms, 2.0);
        QCOMPARE(s.maxMs, 10.0);
        QCOMPARE(EventLoopProbe::summarize({}).samples, 0);
    }

    void neighbouringExpertsGetDistinctColours() {
        const auto colors = expertPalette(256);
        for (size_t e = 1; e < colors.size(); ++e) QVERIFY(colors[e] != colors[e - 1]);
        QCOMPARE(expertColor(3), expertPalette(8)[3]);
        QPalette dark;
        dark.setColor(QPalette::Window, Qt::black);
        dark.setColor(QPalette::WindowText, Qt::white);
        QPalette light;
        light.setColor(QPalette::Window, Qt::white);
        light.setColor(QPalette::WindowText, Qt::black);
        QVERIFY(isDark(dark));
        QVERIFY(!isDark(light));
        // Heavy use stands out from the background in both themes.
        QVERIFY(usageColor(1.0, dark).lightness() > usageColor(0.0, dark).lightness());
        QVERIFY(usageColor(1.0, light).lightness() < usageColor(0.0, light).lightness());
    }
};

QTEST_GUILESS_MAIN(ViewDataTest)
#include "tst_viewdata.moc"
