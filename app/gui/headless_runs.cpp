// SPDX-License-Identifier: MIT
#include "headless_runs.h"

#include "classify_panel.h"
#include "compare_view.h"
#include "engine_controller.h"
#include "event_loop_probe.h"
#include "main_window.h"
#include "sparsity_view.h"

#include <QApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QPixmap>
#include <QTableView>
#include <QThread>

#include <cstdio>

namespace sida::studio {

namespace {

// Enough for the bundled model on a laptop CPU, including a three-policy comparison.
constexpr int kDeadlineMs = 10 * 60 * 1000;
// Frames to let the views replot before the window is grabbed.
constexpr int kSettleMs = 600;
// How often the labelled samples stream through after the sample sentences.
constexpr int kStreamRepeats = 8;
// The results row the hash-table screenshot pins (a long sample sentence).
constexpr int kPinnedSample = 6;

void openModel(ui::MainWindow* window, const QString& modelDir) {
    if (modelDir.isEmpty())
        window->openInitialModel();
    else
        window->openModel(modelDir);
}

} // namespace

ScreenshotRun::ScreenshotRun(ui::MainWindow* window, QString file, QString view, QObject* parent)
    : QObject(parent), m_window(window), m_file(std::move(file)), m_view(std::move(view)) {
    m_deadline.setSingleShot(true);
    m_deadline.setInterval(kDeadlineMs);
    connect(&m_deadline, &QTimer::timeout, this, [this] { fail(QStringLiteral("timed out")); });
}

void ScreenshotRun::start(const QString& modelDir) {
    ui::EngineController* controller = m_window->controller();
    connect(
        controller, &ui::EngineController::loadFailed, this,
        [this](const QString& dir, const QString& message) { fail(dir + QStringLiteral(": ") + message); });
    connect(controller, &ui::EngineController::optionsChanged, this, [this] {
        // The pipeline is up once the first options are announced after the load.
        if (!m_classified && m_window->controller()->isServing()) classifySamples();
    });
    m_deadline.start();
    openModel(m_window, modelDir);
    if (!m_window->controller()->isLoading()) fail(QStringLiteral("no model to open"));
}

void ScreenshotRun::classifySamples() {
    m_classified = true;
    ui::ClassifyPanel* panel = m_window->classifyPanel();
    QStringList lines;
    for (const ui::InputText& input : ui::MainWindow::sampleSentences()) lines << input.text;
    panel->setInputText(lines.join(u'\n'));
    panel->classifyAction()->trigger();
    // A stream of the labelled samples after them gives the live plots some history.
    QList<ui::InputText> stream;
    const QList<ui::InputText> labelled = ui::MainWindow::labelledSamples();
    for (int i = 0; i < kStreamRepeats; ++i) stream << labelled;
    panel->submitInputs(stream, QStringLiteral("sample stream"));
    connect(panel->jobs(), &ui::JobQueueModel::jobFinished, this, [this, panel] {
        if (panel->jobs()->activeCount() == 0) prepareView();
    });
}

void ScreenshotRun::prepareView() {
    if (m_prepared) return;
    m_prepared = true;
    QString error;
    if (m_view == u"sparsity") {
        connect(m_window->sparsityView(), &ui::SparsityView::lessonFinished, this, &ScreenshotRun::capture);
        if (!m_window->sparsityView()->startLesson(ui::MainWindow::labelledSamples(), &error)) fail(error);
        return;
    }
    if (m_view == u"compare") {
        QList<Policy> policies{Policy::Standard, Policy::OnDemand};
        policies << (m_window->controller()->modelInfo().predictor.present ? Policy::Sida : Policy::Oracle);
        connect(m_window->compareView(), &ui::CompareView::comparisonFinished, this, &ScreenshotRun::capture);
        if (!m_window->compareView()->startComparison(policies, ui::MainWindow::labelledSamples(), &error))
            fail(error);
        return;
    }
    if (m_view == u"hash-table") {
        // Pin the hash table to a long sample sentence, as a click on its row would.
        m_window->classifyPanel()->resultsTable()->selectRow(kPinnedSample);
    }
    capture();
}

void ScreenshotRun::capture() {
    m_window->showView(m_view);
    // Give the frame clock a few ticks to deliver the last traces and the plots to replot.
    QTimer::singleShot(kSettleMs, this, [this] {
        QDir().mkpath(QFileInfo(m_file).absolutePath());
        if (!m_window->grab().save(m_file, "PNG")) {
            fail(QStringLiteral("cannot write ") + m_file);
            return;
        }
        std::fprintf(stderr, "sida-studio: saved %s\n", qPrintable(m_file));
        QApplication::exit(0);
    });
}

void ScreenshotRun::fail(const QString& message) {
    std::fprintf(stderr, "sida-studio: screenshot failed: %s\n", qPrintable(message));
    QApplication::exit(1);
}

ResponsivenessRun::ResponsivenessRun(ui::MainWindow* window, int inputs, QObject* parent)
    : QObject(parent), m_window(window), m_inputs(inputs), m_probe(new ui::EventLoopProbe(10, this)) {}

void ResponsivenessRun::start(const QString& modelDir) {
    ui::EngineController* controller = m_window->controller();
    connect(controller, &ui::EngineController::loadFailed, this,
            [](const QString& dir, const QString& message) {
                std::fprintf(stderr, "sida-studio: %s: %s\n", qPrintable(dir), qPrintable(message));
                QApplication::exit(1);
            });
    connect(controller, &ui::EngineController::optionsChanged, this, [this] {
        if (m_job == 0 && m_window->controller()->isServing()) submit();
    });
    m_window->showView(QStringLiteral("throughput"));
    openModel(m_window, modelDir);
}

void ResponsivenessRun::submit() {
    const QList<ui::InputText> samples = ui::MainWindow::labelledSamples();
    QList<ui::InputText> inputs;
    for (int i = 0; i < m_inputs; ++i) inputs << samples[i % samples.size()];
    ui::ClassifyPanel* panel = m_window->classifyPanel();
    connect(panel->jobs(), &ui::JobQueueModel::jobFinished, this, &ResponsivenessRun::report);
    m_probe->start();
    m_startedMs = QDateTime::currentMSecsSinceEpoch();
    m_job = panel->submitInputs(inputs, QStringLiteral("responsiveness benchmark"));
    if (m_job == 0) QApplication::exit(1);
}

void ResponsivenessRun::report() {
    m_probe->stop();
    const double seconds = static_cast<double>(QDateTime::currentMSecsSinceEpoch() - m_startedMs) / 1000.0;
    const ui::EventLoopProbe::Summary s = m_probe->summary();
    const PipelineOptions o = m_window->controller()->options();
    std::printf("inputs %d in %.1f s (%.1f inputs/s), policy %s, batch %d, %d CPU threads available\n",
                m_inputs, seconds, m_inputs / seconds, policyName(o.policy).c_str(), o.batchSize,
                QThread::idealThreadCount());
    std::printf("event-loop lateness over %d ticks of a 10 ms timer: mean %.2f ms, p50 %.2f ms, p95 %.2f ms, "
                "p99 %.2f ms, max %.2f ms\n",
                s.samples, s.meanMs, s.p50Ms, s.p95Ms, s.p99Ms, s.maxMs);
    std::fflush(stdout);
    QApplication::exit(0);
}

} // namespace sida::studio
