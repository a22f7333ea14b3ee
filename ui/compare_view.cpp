// SPDX-License-Identifier: MIT
#include "compare_view.h"

#include "dataset_import.h"
#include "engine_controller.h"
#include "experiment_runner.h"
#include "expert_palette.h"
#include "plot_style.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <qcustomplot.h>

namespace sida::ui {

namespace {

enum class Source { Samples, TextBox, File };

QString percentOrDash(double share) {
    return share < 0 ? QStringLiteral("–") : QString::number(share * 100.0, 'f', 1) + u'%';
}

} // namespace

CompareView::CompareView(EngineController* controller, QWidget* parent)
    : QWidget(parent), m_controller(controller), m_runner(new ExperimentRunner(controller, this)) {
    auto* policies = new QHBoxLayout;
    policies->addWidget(new QLabel(tr("Policies:"), this));
    for (Policy policy : allPolicies()) {
        auto* box = new QCheckBox(policyTitle(policy), this);
        box->setToolTip(policyExplanation(policy));
        box->setChecked(policy == Policy::Standard || policy == Policy::OnDemand || policy == Policy::Sida);
        m_policyBoxes.insert(policy, box);
        policies->addWidget(box);
    }
    policies->addStretch(1);

    m_source = new QComboBox(this);
    m_source->addItem(tr("the sample sentences"), static_cast<int>(Source::Samples));
    m_source->addItem(tr("the inputs in the text box"), static_cast<int>(Source::TextBox));
    m_source->addItem(tr("a data file…"), static_cast<int>(Source::File));
    m_source->setToolTip(tr("The inputs every policy runs"));
    m_runButton = new QPushButton(tr("Run comparison"), this);
    m_runButton->setToolTip(tr("Run the inputs under each checked policy, one after the other"));
    m_cancelButton = new QPushButton(tr("Cancel"), this);
    m_cancelButton->setEnabled(false);
    m_status = new QLabel(this);
    connect(m_runButton, &QPushButton::clicked, this, &CompareView::start);
    connect(m_cancelButton, &QPushButton::clicked, this, &CompareView::cancel);
    auto* run = new QHBoxLayout;
    run->addWidget(new QLabel(tr("Inputs:"), this));
    run->addWidget(m_source);
    run->addWidget(m_runButton);
    run->addWidget(m_cancelButton);
    run->addWidget(m_status, 1);

    m_table = new QTableWidget(0, 10, this);
    m_table->setHorizontalHeaderLabels({tr("Policy"), tr("Samples/s"), tr("Tokens/s"), tr("Latency"),
                                        tr("p95"), tr("Expert mem."), tr("Peak"), tr("Accuracy"),
                                        tr("Agreement"), tr("Hit rate")});
    const QStringList explanations{tr("The serving policy"),
                                   tr("Inputs per second, first batch to last"),
                                   tr("Tokens per second, first batch to last"),
                                   tr("Mean latency from submission to result"),
                                   tr("95th percentile latency"),
                                   tr("Mean resident expert memory over the run's batches"),
                                   tr("Peak resident expert memory"),
                                   tr("Against the labels of the inputs, when they have any"),
                                   tr("Inputs whose label equals the first policy's"),
                                   tr("Predictor top-1 hits against the shadow router")};
    for (int c = 0; c < explanations.size(); ++c)
        m_table->horizontalHeaderItem(c)->setToolTip(explanations[c]);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    m_throughputPlot = createLivePlot(this);
    m_throughputPlot->xAxis->setLabel(tr("seconds since the run started"));
    m_throughputPlot->yAxis->setLabel(tr("samples/s"));
    m_throughputPlot->legend->setVisible(true);
    m_memoryPlot = createLivePlot(this);
    m_memoryPlot->xAxis->setLabel(tr("seconds since the run started"));
    m_memoryPlot->legend->setVisible(true);
    auto* plots = new QSplitter(Qt::Horizontal, this);
    plots->addWidget(m_throughputPlot);
    plots->addWidget(m_memoryPlot);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_table);
    split->addWidget(plots);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 2);
    split->setSizes({160, 640}); // a few rows of results above the plots

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(policies);
    layout->addLayout(run);
    layout->addWidget(split, 1);

    connect(m_runner, &ExperimentRunner::runStarted, this, [this](int run) {
        m_status->setText(tr("Running %1 (%2 of %3)…")
                              .arg(m_runner->runs()[static_cast<size_t>(run)].spec.name)
                              .arg(run + 1)
                              .arg(m_runner->runs().size()));
        fillTable();
    });
    connect(m_runner, &ExperimentRunner::runTraces, this, [this] {
        fillTable();
        redrawPlots();
    });
    connect(m_runner, &ExperimentRunner::runFinished, this, [this] { fillTable(); });
    connect(m_runner, &ExperimentRunner::finished, this, [this](bool cancelled) {
        m_runButton->setEnabled(true);
        m_cancelButton->setEnabled(false);
        m_status->setText(cancelled ? tr("Cancelled.")
                                    : tr("Done: %1 inputs per policy.").arg(m_runner->inputCount()));
        fillTable();
        redrawPlots();
        Q_EMIT comparisonFinished();
    });
    connect(m_runner, &ExperimentRunner::failed, this, &CompareView::message);
    applyPalette();
}

void CompareView::setSampleInputs(const QList<InputText>& inputs) { m_samples = inputs; }

void CompareView::setTextInputSource(std::function<QList<InputText>()> source) {
    m_textInputs = std::move(source);
}

void CompareView::reset(const ModelInfo& info) {
    for (auto it = m_policyBoxes.begin(); it != m_policyBoxes.end(); ++it) {
        const bool runnable = !policyNeedsPredictor(it.key()) || info.predictor.present;
        it.value()->setEnabled(runnable);
        it.value()->setToolTip(runnable ? policyExplanation(it.key())
                                        : tr("Needs the model's predictor: train one on the Model page."));
    }
    m_table->setRowCount(0);
    m_throughputPlot->clearGraphs();
    m_memoryPlot->clearGraphs();
    m_throughputPlot->replot(QCustomPlot::rpQueuedReplot);
    m_memoryPlot->replot(QCustomPlot::rpQueuedReplot);
}

QList<Policy> CompareView::checkedPolicies() const {
    QList<Policy> policies;
    for (auto it = m_policyBoxes.cbegin(); it != m_policyBoxes.cend(); ++it)
        if (it.value()->isChecked() && it.value()->isEnabled()) policies << it.key();
    return policies;
}

bool CompareView::isRunning() const { return m_runner->isRunning(); }

void CompareView::cancel() { m_runner->cancel(); }

void CompareView::start() {
    QList<InputText> inputs;
    switch (static_cast<Source>(m_source->currentData().toInt())) {
    case Source::Samples:
        inputs = m_samples;
        break;
    case Source::TextBox:
        if (m_textInputs) inputs = m_textInputs();
        break;
    case Source::File: {
        const QString path =
            QFileDialog::getOpenFileName(this, tr("Compare policies on a data set"), {},
                                         tr("Data files (*.tsv *.csv *.txt);;All files (*)"));
        if (path.isEmpty()) return;
        const ImportPreview preview = previewImport(path);
        const ImportResult data =
            preview.ok() ? readImport(path, preview.detected) : ImportResult{preview.error, {}, {}, {}};
        if (!data.ok()) {
            Q_EMIT message(tr("Cannot compare on %1: %2").arg(path, data.error));
            return;
        }
        inputs = data.inputs;
        break;
    }
    }
    QString error;
    if (!startComparison(checkedPolicies(), inputs, &error)) Q_EMIT message(error);
}

bool CompareView::startComparison(const QList<Policy>& policies, const QList<InputText>& inputs,
                                  QString* error) {
    if (policies.size() < 2) {
        if (error) *error = tr("Choose at least two policies to compare.");
        return false;
    }
    QList<RunSpec> runs;
    for (Policy policy : policies) {
        RunSpec spec;
        spec.name = policyTitle(policy);
        spec.options = m_controller->options();
        spec.options.policy = policy;
        // The oracle's table is the router's own top-1.
        if (policy == Policy::Oracle) spec.options.topK = 1;
        runs << spec;
    }
    if (!m_runner->start(runs, inputs, error)) return false;
    m_runButton->setEnabled(false);
    m_cancelButton->setEnabled(true);
    m_throughputPlot->clearGraphs();
    m_memoryPlot->clearGraphs();
    fillTable();
    Q_EMIT comparisonStarted();
    return true;
}

void CompareView::fillTable() {
    const auto& runs = m_runner->runs();
    m_table->setRowCount(static_cast<int>(runs.size()));
    for (int row = 0; row < static_cast<int>(runs.size()); ++row) {
        const RunRecord& r = runs[static_cast<size_t>(row)];
        const bool started = r.batches > 0;
        const QStringList cells{
            r.spec.name + (r.finished ? QString() : (started ? tr(" (running)") : tr(" (waiting)"))),
            started ? QString::number(r.samplesPerSecond(), 'f', 1) : QString(),
            started ? QString::number(r.tokensPerSecond(), 'f', 0) : QString(),
            r.latenciesMs.empty() ? QString() : QString::number(r.meanLatencyMs(), 'f', 1) + tr(" ms"),
            r.latenciesMs.empty() ? QString()
                                  : QString::number(r.percentileLatencyMs(0.95), 'f', 1) + tr(" ms"),
            started ? formatBytes(r.meanResidentBytes()) : QString(),
            started ? formatBytes(r.peakResident) : QString(),
            r.finished ? percentOrDash(r.accuracy()) : QString(),
            r.finished ? (row == 0 ? tr("(reference)") : percentOrDash(r.agreement())) : QString(),
            started ? percentOrDash(r.hitRate()) : QString()};
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setTextAlignment(c == 0 ? Qt::AlignLeft | Qt::AlignVCenter
                                          : Qt::AlignRight | Qt::AlignVCenter);
            if (c == 0) item->setForeground(seriesColor(row, palette()));
            if (c == 5 || c == 6)
                item->setToolTip(tr("%1 of %2 with every expert resident (%3)")
                                     .arg(item->text(), formatBytes(r.allExpertBytes), r.memoryTier));
            m_table->setItem(row, c, item);
        }
    }
}

void CompareView::redrawPlots() {
    const auto& runs = m_runner->runs();
    double maxMemory = 0.0;
    for (const RunRecord& r : runs)
        for (const MemoryPoint& p : r.memory.points()) maxMemory = std::max(maxMemory, p.residentExpertBytes);
    const ByteUnit unit = byteUnitFor(maxMemory);
    m_throughputPlot->clearGraphs();
    m_memoryPlot->clearGraphs();
    for (int i = 0; i < static_cast<int>(runs.size()); ++i) {
        const RunRecord& r = runs[static_cast<size_t>(i)];
        if (r.batches == 0) continue;
        QVector<double> t;
        QVector<double> samples;
        for (const ThroughputPoint& p : r.throughput.points()) {
            t << p.seconds;
            samples << p.samplesPerSecond;
        }
        QCPGraph* throughput = m_throughputPlot->addGraph();
        throughput->setData(t, samples, true);
        throughput->setName(r.spec.name);
        throughput->setPen(QPen(seriesColor(i, palette()), 2));
        QVector<double> mt;
        QVector<double> resident;
        for (const MemoryPoint& p : r.memory.points()) {
            mt << p.seconds;
            resident << p.residentExpertBytes / unit.divisor;
        }
        QCPGraph* memory = m_memoryPlot->addGraph();
        memory->setData(mt, resident, true);
        memory->setName(r.spec.name);
        memory->setLineStyle(QCPGraph::lsStepLeft);
        memory->setPen(QPen(seriesColor(i, palette()), 2));
    }
    const QString tier = runs.empty() ? QString() : runs.front().memoryTier;
    m_memoryPlot->yAxis->setLabel(tr("resident experts, %1 (%2)").arg(tier, unit.name));
    m_throughputPlot->rescaleAxes();
    m_memoryPlot->rescaleAxes();
    m_throughputPlot->yAxis->setRangeLower(0);
    m_memoryPlot->yAxis->setRange(0, std::max(maxMemory / unit.divisor * 1.15, 1.0));
    m_throughputPlot->yAxis->setRangeUpper(m_throughputPlot->yAxis->range().upper * 1.15);
    m_throughputPlot->replot(QCustomPlot::rpQueuedReplot);
    m_memoryPlot->replot(QCustomPlot::rpQueuedReplot);
}

void CompareView::applyPalette() {
    applyPlotPalette(m_throughputPlot, palette());
    applyPlotPalette(m_memoryPlot, palette());
    redrawPlots();
    fillTable();
}

void CompareView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) applyPalette();
    QWidget::changeEvent(event);
}

} // namespace sida::ui
