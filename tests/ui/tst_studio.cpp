// SPDX-License-Identifier: MIT
// SiDA Studio end to end, offscreen, on a real model and the real pipeline: load the bundled model
// (or, without it, a tiny fixture), classify three sentences into the results table, pin the hash
// table to a row, watch the memory and throughput plots grow during a job, import a TSV with a BOM and
// a bad row, cancel a running job, change settings between batches, train a predictor and list the
// misses of the shadow router, and keep the settings across sessions.
#include "classify_panel.h"
#include "engine_controller.h"
#include "hash_table_view.h"
#include "import_dialog.h"
#include "main_window.h"
#include "memory_view.h"
#include "predictor_view.h"
#include "studio_settings.h"
#include "test_support.h"
#include "throughput_view.h"

#include "sida/model.h"

#include <QItemSelectionModel>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QListWidget>
#include <QMessageBox>
#include <QProcess>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <memory>

using namespace sida;
using namespace sida::ui;
using namespace Qt::StringLiterals;

namespace {

constexpr int kTimeoutMs = 120000;

/// The bundled demo model, or the tiny fixture when the demo model is not in this checkout.
QString modelUnderTest() {
    const std::filesystem::path bundled = defaultModelDir();
    return QString::fromStdString((bundled.empty() ? test::fixture("hf/e4-step2-fp32") : bundled).string());
}

QList<InputText> repeated(int count) {
    const QList<InputText> samples = MainWindow::labelledSamples();
    QList<InputText> inputs;
    for (int i = 0; i < count; ++i) inputs << samples[i % samples.size()];
    return inputs;
}

int rowsIn(const ResultsModel& model, ResultsModel::State state) {
    int n = 0;
    for (int r = 0; r < model.rowCount(); ++r) n += model.row(r).state == state ? 1 : 0;
    return n;
}

} // namespace

class StudioTest : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<MainWindow> m_window;

    ClassifyPanel* panel() const { return m_window->classifyPanel(); }
    EngineController* controller() const { return m_window->controller(); }

    /// A fresh window serving `model` with `options` (batch size, policy), settings in a temporary file.
    void openWindow(const QString& model, const PipelineOptions& options) {
        m_window = std::make_unique<MainWindow>(
            new QSettings(m_dir.filePath(u"studio.ini"_s), QSettings::IniFormat));
        m_window->resize(1400, 900);
        m_window->show();
        StudioSettings settings = m_window->settings();
        settings.pipeline = options;
        settings.device = u"cpu"_s;
        m_window->applySettings(settings);
        m_window->openModel(model);
        QTRY_VERIFY_WITH_TIMEOUT(controller()->isServing() && !controller()->isLoading(), kTimeoutMs);
    }

    PipelineOptions standard(int batchSize = 4) const {
        PipelineOptions options;
        options.policy = Policy::Standard;
        options.batchSize = batchSize;
        return options;
    }

private Q_SLOTS:
    void cleanup() { m_window.reset(); }

    void loadsTheModel() {
        openWindow(modelUnderTest(), standard());
        const ModelInfo& info = controller()->modelInfo();
        QVERIFY(!info.moeBlocks.empty());
        QVERIFY(!info.labels.empty());
        QCOMPARE(QDir(controller()->modelDir()).canonicalPath(), QDir(modelUnderTest()).canonicalPath());
        QVERIFY(m_window->settings().recentModels.contains(QDir::cleanPath(modelUnderTest())));
    }

    void aBadFolderSaysWhatIsWrong() {
        openWindow(modelUnderTest(), standard());
        QSignalSpy failed(controller(), &EngineController::loadFailed);
        m_window->openModel(m_dir.path());
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kTimeoutMs);
        const QString message = failed[0][1].toString();
        QVERIFY2(message.contains(u"config.json"_s), qPrintable(message));
        // The model that was loaded is still served.
        QVERIFY(controller()->isServing());
    }

    // Every folder of the bad model corpus (tests/badmodels/make_bad_models.py): the app shows the
    // engine's error, naming what is wrong, in its error dialog, and keeps serving the model it had.
    void everyBadModelFolderIsRefused() {
        const QString python = QStandardPaths::findExecutable(u"python3"_s);
        if (python.isEmpty()) QSKIP("python3 is not on PATH; the bad model corpus cannot be made");
        QTemporaryDir corpus;
        QProcess maker;
        maker.start(python, {QStringLiteral(SIDA_BAD_MODELS_SCRIPT), corpus.path()});
        QVERIFY(maker.waitForFinished(120000) && maker.exitCode() == 0);
        QFile manifest(corpus.filePath(u"manifest.json"_s));
        QVERIFY(manifest.open(QIODevice::ReadOnly));
        const QJsonArray models = QJsonDocument::fromJson(manifest.readAll()).object()[u"models"_s].toArray();
        QVERIFY(models.size() >= 30);

        openWindow(modelUnderTest(), standard());
        QSignalSpy failed(controller(), &EngineController::loadFailed);
        for (const QJsonValue& value : models) {
            const QString folder = value[u"folder"_s].toString(), expected = value[u"error"_s].toString();
            // A fault in an expert's bytes is found when the expert is first read, not when the
            // folder opens (tst_bad_models and tst_badinput cover it).
            if (!value[u"info_refuses"_s].toBool(true)) continue;
            failed.clear();
            m_window->openModel(corpus.filePath(folder));
            QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kTimeoutMs);
            const auto* dialog = m_window->findChild<QMessageBox*>(u"loadError"_s);
            QVERIFY2(dialog && dialog->informativeText().contains(expected),
                     qPrintable(folder + u": "_s + (dialog ? dialog->informativeText() : u"no dialog"_s)));
            delete dialog;
            QVERIFY2(controller()->isServing(), qPrintable(folder));
        }
    }

    void classifiesThreeSentences() {
        openWindow(modelUnderTest(), standard());
        panel()->setInputText(u"a wonderful, moving film\nthe plot is a mess\tand the cast is bored\nfine"_s);
        panel()->classifyAction()->trigger();
        const ResultsModel& results = *panel()->results();
        QCOMPARE(results.rowCount(), 3);
        QTRY_COMPARE_WITH_TIMEOUT(results.pendingCount(), 0, kTimeoutMs);
        const std::vector<std::string>& labels = controller()->modelInfo().labels;
        for (int r = 0; r < 3; ++r) {
            const ResultsModel::Row& row = results.row(r);
            QCOMPARE(int(row.state), int(ResultsModel::State::Done));
            QVERIFY(std::find(labels.begin(), labels.end(), row.label.toStdString()) != labels.end());
            QVERIFY(row.confidence > 0.0 && row.confidence <= 1.0);
            QVERIFY(row.latencyMs > 0.0);
            QVERIFY(row.expertsActivated >= static_cast<qint64>(controller()->modelInfo().moeBlocks.size()));
            QVERIFY(row.batchIndex > 0);
        }
        QCOMPARE(results.row(1).input.pair.value_or(QString()), u"and the cast is bored"_s);
        QCOMPARE(panel()->jobs()->rowCount(), 1);
        QCOMPARE(panel()->jobs()->job(0).done, 3);
    }

    void heatmapIsTokensByLayersOfTheSelectedRow() {
        openWindow(modelUnderTest(), standard(2));
        panel()->setInputText(u"short\na somewhat longer sentence about a film\nthe third one"_s);
        panel()->classifyAction()->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(panel()->results()->pendingCount(), 0, kTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(controller()->traceForBatch(panel()->results()->row(1).batchIndex),
                                 kTimeoutMs);
        QTableView* table = panel()->resultsTable();
        const QModelIndex second = table->model()->index(1, ResultsModel::TextColumn);
        table->selectionModel()->setCurrentIndex(second, QItemSelectionModel::ClearAndSelect |
                                                             QItemSelectionModel::Rows);
        HashTableView* view = m_window->hashTableView();
        QVERIFY(!view->isFollowing());
        const ResultsModel::Row& row = panel()->results()->row(1);
        QCOMPARE(view->grid().requestId(), row.requestId);
        QCOMPARE(view->heatmapSize(), QSize(static_cast<int>(row.tokens),
                                            static_cast<int>(controller()->modelInfo().moeBlocks.size())));
    }

    void plotsGainPointsWhileAJobRuns() {
        openWindow(modelUnderTest(), standard(2));
        const int memoryBefore = m_window->memoryView()->pointCount();
        const int throughputBefore = m_window->throughputView()->pointCount();
        panel()->submitInputs(repeated(400), u"long job"_s);
        bool grewWhileRunning = false;
        QElapsedTimer clock;
        clock.start();
        while (panel()->results()->pendingCount() > 0 && clock.elapsed() < kTimeoutMs) {
            QTest::qWait(20);
            if (panel()->results()->pendingCount() > 0 &&
                m_window->memoryView()->pointCount() > memoryBefore + 1 &&
                m_window->throughputView()->pointCount() > throughputBefore + 1)
                grewWhileRunning = true;
        }
        QVERIFY(grewWhileRunning);
        QCOMPARE(panel()->results()->pendingCount(), 0);
        QTRY_VERIFY(m_window->memoryView()->pointCount() >= 200 - 1);
        QVERIFY(!m_window->memoryView()->title().contains(u"GPU"_s) ||
                controller()->modelInfo().device != "cpu");
    }

    void importsATsvWithABomAndABadRow() {
        openWindow(modelUnderTest(), standard());
        const QString path = m_dir.filePath(u"reviews.tsv"_s);
        std::ofstream(path.toStdString(), std::ios::binary) << "\xEF\xBB\xBFsentence\tlabel\n"
                                                               "a fine film\t1\n"
                                                               "a row with no label column\n"
                                                               "a dull film\t0\n";
        ImportDialog dialog(path, m_window.get());
        QCOMPARE(dialog.problemList()->count(), 1);
        QVERIFY2(dialog.problemList()->item(0)->text().startsWith(u"line 3:"_s),
                 qPrintable(dialog.problemList()->item(0)->text()));
        QCOMPARE(dialog.result().inputs.size(), 2);
        QVERIFY(panel()->submitInputs(dialog.result().inputs, u"reviews.tsv"_s) != 0);
        QTRY_COMPARE_WITH_TIMEOUT(panel()->results()->pendingCount(), 0, kTimeoutMs);
        QCOMPARE(panel()->results()->row(0).input.text, u"a fine film"_s);
        QCOMPARE(panel()->results()->row(0).input.expectedLabel, u"1"_s);
        QCOMPARE(rowsIn(*panel()->results(), ResultsModel::State::Done), 2);
    }

    void cancellingLeavesAConsistentTable() {
        openWindow(modelUnderTest(), standard(2));
        const int total = 3000;
        const quint64 job = panel()->submitInputs(repeated(total), u"to cancel"_s);
        QVERIFY(job != 0);
        QTRY_VERIFY_WITH_TIMEOUT(rowsIn(*panel()->results(), ResultsModel::State::Done) > 0, kTimeoutMs);
        panel()->jobTable()->setCurrentIndex(panel()->jobs()->index(0, 0));
        panel()->cancelJobAction()->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(panel()->jobs()->activeCount(), 0, kTimeoutMs);
        const ResultsModel& results = *panel()->results();
        const int done = rowsIn(results, ResultsModel::State::Done);
        const int cancelled = rowsIn(results, ResultsModel::State::Cancelled);
        QCOMPARE(results.pendingCount(), 0);
        QCOMPARE(results.failedCount(), 0);
        QCOMPARE(done + cancelled, total);
        QVERIFY2(cancelled > 0, "the job finished before it could be cancelled");
        QCOMPARE(panel()->jobs()->job(0).done, total);
        QCOMPARE(int(panel()->jobs()->job(0).state), int(JobQueueModel::State::Cancelled));
        // The pipeline keeps serving.
        panel()->submitInputs(repeated(2), u"after"_s);
        QTRY_COMPARE_WITH_TIMEOUT(results.pendingCount(), 0, kTimeoutMs);
    }

    void settingsApplyFromTheNextBatch() {
        openWindow(modelUnderTest(), standard(8));
        QList<TracePtr> traces;
        connect(controller(), &EngineController::tracesArrived, this,
                [&traces](const QList<TracePtr>& arrived) { traces << arrived; });
        panel()->submitInputs(repeated(600), u"settings"_s);
        QTRY_VERIFY_WITH_TIMEOUT(!traces.isEmpty(), kTimeoutMs);
        StudioSettings changed = m_window->settings();
        changed.pipeline.batchSize = 3;
        changed.pipeline.policy = Policy::OnDemand;
        changed.pipeline.deviceBudget = Budget::ofFraction(0.5);
        m_window->applySettings(changed);
        QCOMPARE(controller()->options().batchSize, 3);
        QTRY_COMPARE_WITH_TIMEOUT(panel()->results()->pendingCount(), 0, kTimeoutMs);
        QTRY_VERIFY(traces.back()->sequences.size() <= 3);
        // Each batch ran wholly under the old or wholly under the new settings, old ones first.
        bool switched = false;
        for (const TracePtr& trace : traces) {
            const bool isNew = trace->policy == Policy::OnDemand;
            QCOMPARE(trace->sequences.size() <= 3, isNew || trace->sequences.size() <= 3);
            if (isNew) {
                switched = true;
                QVERIFY(trace->sequences.size() <= 3);
            } else {
                QVERIFY2(!switched, "a batch under the old settings ran after one under the new");
                QCOMPARE(int(trace->policy), int(Policy::Standard));
            }
        }
        QVERIFY(switched);
        QVERIFY(traces.back()->memory.budgetBytes < traces.front()->memory.budgetBytes);
    }

    void shadowRouterFillsTheMissList() {
        // A model with a predictor: the bundled one, or a fixture copy the app trains one for.
        QString model = modelUnderTest();
        const std::filesystem::path bundled = defaultModelDir();
        const bool trainHere = bundled.empty() || !Model::load(bundled, {}, {}, {})->info().predictor.present;
        if (trainHere) {
            model = QString::fromStdString(
                test::copyModel(test::fixture("hf/e4-step2-fp32"), m_dir, "with-predictor").string());
            const QString data = m_dir.filePath(u"predictor-data.tsv"_s);
            std::ofstream out(data.toStdString(), std::ios::binary);
            out << "sentence\tlabel\n";
            for (const InputText& input : MainWindow::labelledSamples())
                out << input.text.toStdString() << "\t" << input.expectedLabel.toStdString() << "\n";
            out.close();
            openWindow(model, standard());
            PredictorTrainOptions options;
            options.trainData = data.toStdString();
            options.devData = data.toStdString();
            options.epochs = 2;
            options.architecture.hidden = 32;
            options.dataOptions.requireLabels = false;
            options.device = "cpu";
            QSignalSpy reloaded(controller(), &EngineController::modelLoaded);
            QVERIFY(controller()->startPredictorTraining(options));
            QTRY_COMPARE_WITH_TIMEOUT(reloaded.size(), 1, kTimeoutMs);
            QTRY_VERIFY_WITH_TIMEOUT(controller()->isServing(), kTimeoutMs);
            QVERIFY(controller()->modelInfo().predictor.present);
        } else {
            openWindow(model, standard());
        }
        StudioSettings settings = m_window->settings();
        settings.pipeline.policy = Policy::Sida;
        settings.pipeline.shadowRouter = true;
        settings.pipeline.topK = 1;
        m_window->applySettings(settings);
        QCOMPARE(int(controller()->options().policy), int(Policy::Sida));
        panel()->submitInputs(repeated(100), u"misses"_s);
        QTRY_COMPARE_WITH_TIMEOUT(panel()->results()->pendingCount(), 0, kTimeoutMs);
        PredictorView* predictor = m_window->predictorView();
        QTRY_VERIFY_WITH_TIMEOUT(predictor->stats().compared() > 0, kTimeoutMs);
        QVERIFY(predictor->misses()->rowCount() > 0);
        const MissListModel::Miss& miss = predictor->misses()->miss(0);
        QVERIFY(miss.predicted != miss.router);
        QVERIFY(!miss.sentence.isEmpty());
        // Turning the shadow router off stops the comparison.
        settings.pipeline.shadowRouter = false;
        m_window->applySettings(settings);
        const int64_t compared = predictor->stats().compared();
        panel()->submitInputs(repeated(20), u"no shadow"_s);
        QTRY_COMPARE_WITH_TIMEOUT(panel()->results()->pendingCount(), 0, kTimeoutMs);
        QTest::qWait(2 * EngineController::kFrameIntervalMs);
        QCOMPARE(predictor->stats().compared(), compared);
    }

    // A fresh user's first launch: default settings serve SiDA on a model with a predictor, so the
    // first Classify already compares the hash table with the routers; a model without one is
    // served On demand.
    void firstLaunchServesSida() {
        const std::filesystem::path bundled = defaultModelDir();
        if (bundled.empty() || !std::filesystem::exists(bundled / "predictor.json"))
            QSKIP("the bundled demo model with its predictor is not in this checkout");
        m_window = std::make_unique<MainWindow>(
            new QSettings(m_dir.filePath(u"first-launch.ini"_s), QSettings::IniFormat));
        m_window->openModel(QString::fromStdString(bundled.string()));
        QTRY_VERIFY_WITH_TIMEOUT(controller()->isServing() && !controller()->isLoading(), kTimeoutMs);
        QCOMPARE(int(controller()->options().policy), int(Policy::Sida));
        QVERIFY(controller()->options().shadowRouter);
        panel()->submitInputs(repeated(3), u"first"_s);
        QTRY_COMPARE_WITH_TIMEOUT(panel()->results()->pendingCount(), 0, kTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->predictorView()->stats().compared() > 0, kTimeoutMs);

        m_window->openModel(QString::fromStdString(test::fixture("hf/e4-step2-fp32").string()));
        QTRY_VERIFY_WITH_TIMEOUT(controller()->isServing() && !controller()->isLoading() &&
                                     !controller()->modelInfo().predictor.present,
                                 kTimeoutMs);
        QCOMPARE(int(controller()->options().policy), int(Policy::OnDemand));
    }

    void settingsSurviveARestart() {
        const QString ini = m_dir.filePath(u"roundtrip.ini"_s);
        StudioSettings settings;
        settings.pipeline.policy = Policy::SidaExact;
        settings.pipeline.topK = 3;
        settings.pipeline.deviceBudget = Budget::ofFraction(0.25);
        settings.pipeline.hostBudget = Budget::ofBytes(64 << 20);
        settings.dtype = QStringLiteral("bfloat16");
        settings.pipeline.batchSize = 32;
        settings.pipeline.hashQueueDepth = 7;
        settings.pipeline.shadowRouter = false;
        settings.pipeline.eviction = Eviction::Fifo;
        settings.threads = 3;
        settings.theme = Theme::Dark;
        for (int i = 0; i < 10; ++i) settings.addRecentModel(u"/models/m%1"_s.arg(i));
        {
            QSettings store(ini, QSettings::IniFormat);
            settings.save(store);
        }
        QSettings store(ini, QSettings::IniFormat);
        const StudioSettings loaded = StudioSettings::load(store);
        QCOMPARE(int(loaded.pipeline.policy), int(Policy::SidaExact));
        QCOMPARE(loaded.pipeline.topK, 3);
        QVERIFY(loaded.pipeline.deviceBudget == Budget::ofFraction(0.25));
        QVERIFY(loaded.pipeline.hostBudget == Budget::ofBytes(64 << 20));
        QCOMPARE(loaded.dtype, QStringLiteral("bfloat16"));
        QCOMPARE(loaded.pipeline.batchSize, 32);
        QCOMPARE(loaded.pipeline.hashQueueDepth, 7);
        QCOMPARE(loaded.pipeline.shadowRouter, false);
        QCOMPARE(int(loaded.pipeline.eviction), int(Eviction::Fifo));
        QCOMPARE(loaded.threads, 3);
        QCOMPARE(int(loaded.theme), int(Theme::Dark));
        QCOMPARE(loaded.recentModels.size(), StudioSettings::kMaxRecentModels);
        QCOMPARE(loaded.recentModels.front(), u"/models/m9"_s);
        // A value another version wrote does not stop the app.
        store.setValue(u"pipeline/policy"_s, u"warp-drive"_s);
        QCOMPARE(int(StudioSettings::load(store).pipeline.policy), int(StudioSettings().pipeline.policy));
    }
};

QTEST_MAIN(StudioTest)
#include "tst_studio.moc"
