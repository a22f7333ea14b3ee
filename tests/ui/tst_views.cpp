// SPDX-License-Identifier: MIT
// The views as widgets, offscreen, fed with synthetic batch traces: the hash-table heatmap follows
// the newest batch or a pinned sentence, the expert strips paint 256 experts and mark each expert's
// tier, the memory view draws the device pool, host cache and disk and names the RAM pool on a CPU,
// the plots gain points, the predictor view lists misses and opens them, and
// the main window offers every view without a model.
#include "engine_controller.h"
#include "expert_palette.h"
#include "experts_view.h"
#include "hash_table_view.h"
#include "main_window.h"
#include "memory_view.h"
#include "predictor_view.h"
#include "settings_dialog.h"
#include "studio_settings.h"
#include "synthetic_traces.h"
#include "throughput_view.h"

#include <QPushButton>
#include <QSettings>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

using namespace sida;
using namespace sida::ui;
using namespace Qt::StringLiterals;

namespace {

ModelInfo modelWith(int layers, int experts) {
    ModelInfo info;
    info.config.num_experts = experts;
    for (int l = 0; l < layers; ++l) info.moeBlocks.push_back(2 * l + 1);
    info.expertBytes = 1024;
    info.totalExpertBytes = 1024 * layers * experts;
    return info;
}

} // namespace

class ViewsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // The Settings button sets the paper's setup, and only the serving fields it names.
    void settingsOfferThePapersSetup() {
        StudioSettings start;
        start.pipeline.policy = Policy::OnDemand;
        start.pipeline.batchSize = 5;
        SettingsDialog dialog(start, 32, /*hasPredictor=*/true);
        QPushButton* paper = nullptr;
        for (QPushButton* button : dialog.findChildren<QPushButton*>())
            if (button->text().contains(u"paper"_s)) paper = button;
        QVERIFY(paper && paper->isEnabled());
        QVERIFY(!isPaperPreset(dialog.settings().pipeline));
        paper->click();
        const PipelineOptions chosen = dialog.settings().pipeline;
        QVERIFY(isPaperPreset(chosen));
        QCOMPARE(chosen.batchSize, 5);
        // Without a predictor SiDA cannot run, so neither can its preset.
        SettingsDialog without(start, 32, /*hasPredictor=*/false);
        for (QPushButton* button : without.findChildren<QPushButton*>())
            if (button->text().contains(u"paper"_s)) QVERIFY(!button->isEnabled());
    }

    void hashTableFollowsTheNewestBatch() {
        HashTableView view;
        view.resize(800, 500);
        test::TraceShape shape;
        shape.lengths = {5, 3};
        shape.layers = 3;
        view.updateLatest(test::makeTrace(shape));
        // The newest batch's last sentence: 3 tokens by 3 MoE layers.
        QCOMPARE(view.heatmapSize(), QSize(3, 3));
        QCOMPARE(view.grid().tokenCount(), 3);
        QVERIFY(view.isFollowing());
        shape.batchIndex = 2;
        shape.lengths = {7};
        view.updateLatest(test::makeTrace(shape));
        QCOMPARE(view.heatmapSize(), QSize(7, 3));
    }

    void hashTablePinsASentence() {
        HashTableView view;
        QSignalSpy following(&view, &HashTableView::followingChanged);
        test::TraceShape shape;
        shape.lengths = {5, 3};
        const TracePtr pinned = test::makeTrace(shape);
        view.pin(pinned, 1, 2);
        QVERIFY(!view.isFollowing());
        QCOMPARE(following.size(), 1);
        QCOMPARE(view.heatmapSize(), QSize(5, 2));
        // New batches do not move a pinned view...
        shape.batchIndex = 2;
        shape.lengths = {9};
        view.updateLatest(test::makeTrace(shape));
        QCOMPARE(view.heatmapSize(), QSize(5, 2));
        // ...until it follows again.
        view.followLatest();
        shape.batchIndex = 3;
        view.updateLatest(test::makeTrace(shape));
        QCOMPARE(view.heatmapSize(), QSize(9, 2));
        QVERIFY(!view.grab().isNull());
    }

    void expertStripsPaintManyExperts() {
        ExpertsView view;
        view.resize(900, 600);
        view.reset(modelWith(4, 256));
        test::TraceShape shape;
        shape.layers = 4;
        shape.experts = 256;
        view.addTraces({test::makeTrace(shape)});
        view.refresh();
        QCOMPARE(view.activity().batches(), 1u);
        QCOMPARE(view.activity().residentCount(0), 128);
        QVERIFY(!view.grab().isNull());
    }

    void expertStripsShowEachTier() {
        ExpertsView view;
        view.resize(1000, 700);
        view.reset(modelWith(6, 128));
        test::TraceShape shape;
        shape.layers = 6;
        shape.experts = 128;
        view.addTraces({test::makeTrace(shape)});
        view.refresh();
        QVERIFY2(view.summary().startsWith(
                     u"RAM pool (CPU): 384 of 768 experts · host RAM cache only: 192 · disk only: 192"_s),
                 qPrintable(view.summary()));
        const QStringList legend = view.legend().entries();
        QCOMPARE(legend.size(), 5);
        QCOMPARE(legend[0], u"device pool: RAM pool (CPU)"_s);
        QCOMPARE(legend[1], u"host cache only: host RAM cache"_s);
        QCOMPARE(legend[2], u"on disk only"_s);

        // The host cache's bar runs along the bottom of a host-only cell, and only there.
        auto* strips = view.findChild<ExpertStrips*>();
        QVERIFY(strips);
        strips->resize(980, strips->minimumHeight());
        strips->refresh();
        const QImage image = strips->grab().toImage();
        const QColor host = semanticColors(strips->palette()).host;
        auto bottomCentre = [&](int expert) {
            const QRectF cell = strips->layout().cellRect(5, expert);
            return image.pixelColor(QPointF(cell.center().x(), cell.bottom() - 1).toPoint());
        };
        QCOMPARE(bottomCentre(64), host);   // host cache only
        QCOMPARE(bottomCentre(95), host);   // host cache only
        QVERIFY(bottomCentre(1) != host);   // in the pool
        QVERIFY(bottomCentre(0) != host);   // in the pool and the host cache: the pool wins
        QVERIFY(bottomCentre(127) != host); // on disk only
    }

    void memoryViewSaysRamPoolOnCpu() {
        MemoryView view;
        test::TraceShape shape;
        view.addTraces({test::makeTrace(shape)});
        view.refresh();
        QCOMPARE(view.pointCount(), 1);
        QVERIFY2(view.title().contains(u"RAM pool (CPU)"_s), qPrintable(view.title()));
        QVERIFY(!view.title().contains(u"GPU"_s));
        shape.startedSeconds = 1;
        view.addTraces({test::makeTrace(shape)});
        shape.startedSeconds = 2;
        view.addTraces({test::makeTrace(shape)});
        view.refresh();
        QCOMPARE(view.pointCount(), 3);
        view.clear();
        QCOMPARE(view.pointCount(), 0);
    }

    void memoryViewDrawsTheThreeTiers() {
        MemoryView view;
        view.resize(1000, 800);
        test::TraceShape shape; // 2 layers x 8 experts
        shape.diskBytesRead = 100u << 10;
        shape.diskReadExposedMs = 150.0;
        shape.diskReadHiddenMs = 400.0;
        view.addTraces({test::makeTrace(shape)});
        // A larger read changes the disk plot's unit (KiB to MiB): what is drawn still matches.
        shape.startedSeconds = 1;
        shape.diskBytesRead = 3u << 20;
        view.addTraces({test::makeTrace(shape)});
        view.refresh();
        QCOMPARE(view.pointCount(), 2);
        const auto drawn = view.latestDrawn();
        QCOMPARE(drawn[0], double(8 * 1024));           // experts in the pool
        QCOMPARE(drawn[1], double(2 * (2 + 1) * 2048)); // the host cache
        QCOMPARE(drawn[2], double(3 << 20));            // read from disk by the batch
        QCOMPARE(drawn[3], 150.0);                      // read time waited for

        const QStringList titles = view.plotTitles();
        QCOMPARE(titles.size(), 4);
        QVERIFY2(titles[0].contains(u"RAM pool (CPU)"_s), qPrintable(titles[0]));
        QVERIFY2(titles[1].contains(u"host RAM cache"_s), qPrintable(titles[1]));
        QVERIFY2(titles[2].contains(u"pread, O_DIRECT"_s), qPrintable(titles[2]));
        const QString title = view.title();
        QVERIFY2(title.contains(u"RAM pool (CPU): 8.00 KiB / 12.0 KiB of experts"_s), qPrintable(title));
        QVERIFY2(title.contains(u"host RAM cache: 12.0 KiB / 16.0 KiB"_s), qPrintable(title));
        QVERIFY2(title.contains(u"disk: 3.10 MiB read (0.30 s waited, 0.80 s hidden)"_s), qPrintable(title));
        QVERIFY2(title.contains(u"process 300.0 MiB"_s), qPrintable(title));
        for (const QString& text : titles + QStringList{title})
            QVERIFY2(!text.contains(u"GPU"_s), qPrintable(text));
        QVERIFY(!view.grab().isNull());
    }

    void memoryViewSaysGpuOnCuda() {
        MemoryView view;
        test::TraceShape shape;
        shape.cuda = true;
        view.addTraces({test::makeTrace(shape)});
        view.refresh();
        QVERIFY2(view.title().startsWith(u"GPU memory (cuda:0)"_s), qPrintable(view.title()));
    }

    void throughputViewGainsPoints() {
        ThroughputView view;
        test::TraceShape shape;
        for (int i = 0; i < 4; ++i) {
            shape.startedSeconds = i * 0.1;
            view.addTraces({test::makeTrace(shape)});
        }
        view.refresh();
        QCOMPARE(view.pointCount(), 4);
        // Eight samples from the first batch's start to the last one's end.
        QCOMPARE(view.series().points().back().samplesPerSecond, 8 / 0.31);
    }

    void throughputAxesTakeTheirCurvesColours() {
        ThroughputView view;
        const auto check = [&] {
            const auto colours = view.throughputCurveColours();
            QCOMPARE(colours.size(), 2);
            QCOMPARE(colours[0].name, u"samples/s"_s);
            QCOMPARE(colours[1].name, u"tokens/s"_s);
            QVERIFY(colours[0].curve != colours[1].curve);
            for (const auto& c : colours) {
                QCOMPARE(c.axisLabel, c.curve);
                QCOMPARE(c.tickLabels, c.curve);
            }
        };
        check();
        view.setPalette(QPalette(QColor(30, 30, 30))); // a dark theme: the colours are set again
        check();
    }

    void predictorViewListsAndOpensMisses() {
        PredictorView view;
        view.reset(modelWith(2, 8));
        view.setServingOptions(PipelineOptions{}, true);
        test::TraceShape shape;
        shape.batchIndex = 4;
        view.addTraces({test::makeTrace(shape)});
        view.refresh();
        QCOMPARE(view.misses()->rowCount(), 6);
        QCOMPARE(view.stats().compared(), 16);
        QSignalSpy opened(&view, &PredictorView::openSentence);
        view.resize(900, 700);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QTableView* table = view.missTable();
        const QRect cell = table->visualRect(table->model()->index(2, 0));
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, cell.center());
        QCOMPARE(opened.size(), 1);
        QCOMPARE(opened[0][0].toULongLong(), 4u);
        QCOMPARE(opened[0][1].toULongLong(),
                 table->model()->index(2, 0).data(MissListModel::RequestIdRole).toULongLong());
        QCOMPARE(opened[0][2].toInt(), table->model()->index(2, 0).data(MissListModel::TokenRole).toInt());
    }

    void predictorViewListsNewestBatchFirst() {
        PredictorView view;
        view.reset(modelWith(2, 8));
        view.setServingOptions(PipelineOptions{}, true);
        test::TraceShape shape;
        for (quint64 batch : {4u, 5u}) {
            shape.batchIndex = batch;
            view.addTraces({test::makeTrace(shape)});
        }
        view.refresh();
        const QAbstractItemModel* shown = view.missTable()->model();
        QCOMPARE(shown->rowCount(), 12);
        QCOMPARE(shown->index(0, 0).data(MissListModel::BatchIndexRole).toULongLong(), 5u);
        QCOMPARE(shown->index(11, 0).data(MissListModel::BatchIndexRole).toULongLong(), 4u);
        QCOMPARE(shown->index(0, MissListModel::BatchColumn).data().toULongLong(), 5u);
    }

    void mainWindowOffersEveryViewWithoutAModel() {
        QTemporaryDir dir;
        MainWindow window(new QSettings(dir.filePath(u"studio.ini"_s), QSettings::IniFormat));
        window.resize(1200, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(!window.controller()->hasModel());
        // It fits a 1366 x 768 laptop screen.
        QVERIFY2(window.minimumSizeHint().width() <= 1280 && window.minimumSizeHint().height() <= 720,
                 qPrintable(u"minimum size %1 x %2"_s.arg(window.minimumSizeHint().width())
                                .arg(window.minimumSizeHint().height())));
        for (const QString& name : MainWindow::viewNames()) QVERIFY2(window.showView(name), qPrintable(name));
        QVERIFY(!window.showView(u"no-such-view"_s));
        QVERIFY(!MainWindow::sampleSentences().isEmpty());
        const QList<InputText> labelled = MainWindow::labelledSamples();
        QVERIFY(labelled.size() >= 40);
        QVERIFY(!labelled.front().expectedLabel.isEmpty());
    }

    void windowStateIsRestored() {
        QTemporaryDir dir;
        const QString ini = dir.filePath(u"studio.ini"_s);
        {
            MainWindow window(new QSettings(ini, QSettings::IniFormat));
            window.resize(1300, 850);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            window.showView(u"memory"_s);
            window.close();
        }
        MainWindow again(new QSettings(ini, QSettings::IniFormat));
        QCOMPARE(again.size(), QSize(1300, 850));
        QVERIFY(again.findChild<MemoryView*>()->isVisibleTo(&again));
    }
};

QTEST_MAIN(ViewsTest)
#include "tst_views.moc"
