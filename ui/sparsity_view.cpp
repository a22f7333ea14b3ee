// SPDX-License-Identifier: MIT
#include "sparsity_view.h"

#include "dataset_import.h"
#include "engine_controller.h"
#include "experiment_runner.h"
#include "expert_palette.h"
#include "plot_style.h"

#include <QComboBox>
#include <QEvent>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QVBoxLayout>

#include <qcustomplot.h>

namespace sida::ui {

namespace {

constexpr int kMaxLengthPoints = 24;

QLabel* explanation(QWidget* parent) {
    auto* label = new QLabel(parent);
    label->setWordWrap(true);
    label->setTextFormat(Qt::RichText);
    label->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    label->setMinimumWidth(220);
    return label;
}

} // namespace

SparsityView::SparsityView(EngineController* controller, QWidget* parent)
    : QWidget(parent), m_controller(controller), m_runner(new ExperimentRunner(controller, this)) {
    auto* intro =
        new QLabel(tr("<b>Why SiDA works.</b> A Switch Transformer sends each token to one expert per "
                      "MoE layer. Run a data set and watch how few experts any one sentence needs: "
                      "the rest could stay in host memory."),
                   this);
    intro->setWordWrap(true);
    m_runButton = new QPushButton(tr("Run lesson on the samples"), this);
    m_runButton->setToolTip(
        tr("Classify the bundled sample sentences with every router deciding (Standard policy)"));
    m_fileButton = new QPushButton(tr("Run lesson on a file…"), this);
    m_fileButton->setToolTip(tr("Pick a TSV, CSV or TXT data set to run the lesson on"));
    m_cancelButton = new QPushButton(tr("Cancel"), this);
    m_cancelButton->setEnabled(false);
    m_progress = new QProgressBar(this);
    m_progress->setVisible(false);
    m_status = new QLabel(this);
    connect(m_runButton, &QPushButton::clicked, this, &SparsityView::runSamples);
    connect(m_fileButton, &QPushButton::clicked, this, &SparsityView::chooseFile);
    connect(m_cancelButton, &QPushButton::clicked, this, &SparsityView::cancel);

    m_idlePlot = createLivePlot(this);
    m_idlePlot->xAxis->setLabel(tr("sentence length (tokens)"));
    m_idlePlot->yAxis->setLabel(tr("idle experts (%)"));
    m_idlePlot->yAxis->setRange(0, 100);
    m_idlePlot->legend->setVisible(true);
    // Top right: idle shares fall with length, so the curves end low on the right.
    m_idlePlot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignRight | Qt::AlignTop);
    m_usePlot = createLivePlot(this);
    m_usePlot->xAxis->setLabel(tr("sentence length (tokens)"));
    m_usePlot->yAxis->setLabel(tr("expert memory used (%)"));
    m_usePlot->yAxis->setRange(0, 100);
    m_histogramPlot = createLivePlot(this);
    m_histogram = new QCPBars(m_histogramPlot->xAxis, m_histogramPlot->yAxis);
    m_histogramPlot->xAxis->setLabel(tr("expert"));
    m_histogramPlot->yAxis->setLabel(tr("share of the layer's tokens (%)"));
    m_histogramLayer = new QComboBox(this);
    m_histogramLayer->setToolTip(tr("The layer whose expert usage is shown"));
    connect(m_histogramLayer, &QComboBox::currentIndexChanged, this, [this] { redrawUsage(); });

    m_idleText = explanation(this);
    m_useText = explanation(this);
    m_histogramText = explanation(this);

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_runButton);
    controls->addWidget(m_fileButton);
    controls->addWidget(m_cancelButton);
    controls->addWidget(m_progress, 1);
    controls->addWidget(m_status, 1);

    auto* content = new QWidget(this);
    auto* plots = new QVBoxLayout(content);
    plots->addWidget(explainedPlot(m_idlePlot, m_idleText));
    plots->addWidget(explainedPlot(m_usePlot, m_useText));
    auto* histogramBox = new QWidget(content);
    auto* histogramLayout = new QVBoxLayout(histogramBox);
    histogramLayout->setContentsMargins(0, 0, 0, 0);
    auto* layerRow = new QHBoxLayout;
    layerRow->addWidget(new QLabel(tr("Expert usage, layer:"), histogramBox));
    layerRow->addWidget(m_histogramLayer, 1);
    histogramLayout->addLayout(layerRow);
    histogramLayout->addWidget(m_histogramPlot, 1);
    auto* histogramRow = new QWidget(content);
    auto* histogramRowLayout = new QHBoxLayout(histogramRow);
    histogramRowLayout->setContentsMargins(0, 0, 0, 0);
    histogramRowLayout->addWidget(histogramBox, 3);
    histogramRowLayout->addWidget(m_histogramText, 2);
    plots->addWidget(histogramRow);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(content);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addLayout(controls);
    layout->addWidget(scroll, 1);

    connect(m_runner, &ExperimentRunner::runTraces, this, [this](int, const QList<TracePtr>& traces) {
        for (const TracePtr& trace : traces) m_stats.add(*trace);
        const RunRecord& run = m_runner->runs().front();
        m_progress->setValue(run.completed);
        redraw();
    });
    connect(m_runner, &ExperimentRunner::finished, this, [this](bool cancelled) {
        m_runButton->setEnabled(true);
        m_fileButton->setEnabled(true);
        m_cancelButton->setEnabled(false);
        m_progress->setVisible(false);
        m_status->setText(cancelled ? tr("Cancelled after %1 sentences.").arg(m_stats.sentences())
                                    : tr("%1 sentences.").arg(m_stats.sentences()));
        redraw();
        Q_EMIT lessonFinished();
    });
    connect(m_runner, &ExperimentRunner::failed, this, &SparsityView::message);
    applyPalette();
    redraw();
}

QWidget* SparsityView::explainedPlot(QCustomPlot* plot, QLabel* text) {
    auto* row = new QWidget(this);
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    plot->setMinimumHeight(220);
    layout->addWidget(plot, 3);
    layout->addWidget(text, 2);
    return row;
}

void SparsityView::setSampleInputs(const QList<InputText>& inputs) { m_samples = inputs; }

void SparsityView::reset(const ModelInfo& info) {
    m_stats.clear();
    m_expertBytes = static_cast<double>(info.expertBytes);
    m_totalExpertBytes = static_cast<double>(info.totalExpertBytes);
    m_histogramLayer->blockSignals(true);
    m_histogramLayer->clear();
    for (size_t l = 0; l < info.moeBlocks.size(); ++l)
        m_histogramLayer->addItem(tr("%1 (block %2)").arg(l).arg(info.moeBlocks[l]), static_cast<int>(l));
    m_histogramLayer->blockSignals(false);
    m_status->clear();
    redraw();
}

bool SparsityView::isRunning() const { return m_runner->isRunning(); }

void SparsityView::cancel() { m_runner->cancel(); }

void SparsityView::runSamples() {
    QString error;
    if (!startLesson(m_samples, &error)) Q_EMIT message(error);
}

void SparsityView::chooseFile() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Run the lesson on a data set"), {},
                                                      tr("Data files (*.tsv *.csv *.txt);;All files (*)"));
    if (path.isEmpty()) return;
    const ImportPreview preview = previewImport(path);
    ImportResult data =
        preview.ok() ? readImport(path, preview.detected) : ImportResult{preview.error, {}, {}, {}};
    QString error = data.error;
    if (data.ok() && !startLesson(data.inputs, &error)) data.error = error;
    if (!error.isEmpty()) Q_EMIT message(tr("The lesson cannot run on %1: %2").arg(path, error));
}

bool SparsityView::startLesson(const QList<InputText>& inputs, QString* error) {
    RunSpec spec;
    spec.name = tr("lesson");
    spec.options = m_controller->options();
    spec.options.policy = Policy::Standard; // every router decides: the activation the paper measures
    if (!m_runner->start({spec}, inputs, error)) return false;
    m_stats.clear();
    m_runButton->setEnabled(false);
    m_fileButton->setEnabled(false);
    m_cancelButton->setEnabled(true);
    m_progress->setRange(0, static_cast<int>(inputs.size()));
    m_progress->setValue(0);
    m_progress->setVisible(true);
    m_status->setText(tr("Running %1 sentences…").arg(inputs.size()));
    redraw();
    Q_EMIT lessonStarted();
    return true;
}

void SparsityView::redraw() {
    const int bin = m_stats.binWidthFor(kMaxLengthPoints);
    const auto points = m_stats.byLength(bin);
    QVector<double> lengths;
    QVector<double> meanIdle;
    QVector<double> use;
    for (const auto& p : points) {
        lengths << p.length;
        meanIdle << p.meanIdleFraction * 100.0;
        use << p.effectiveUse * 100.0;
    }
    // One thin line per layer, and their mean in bold.
    while (m_idlePlot->graphCount() > m_stats.layers() + 1)
        m_idlePlot->removeGraph(m_idlePlot->graphCount() - 1);
    while (m_idlePlot->graphCount() < m_stats.layers() + 1) m_idlePlot->addGraph();
    for (int l = 0; l < m_stats.layers(); ++l) {
        QVector<double> idle;
        for (const auto& p : points) idle << p.idleFraction[static_cast<size_t>(l)] * 100.0;
        QCPGraph* graph = m_idlePlot->graph(l + 1);
        graph->setData(lengths, idle, true);
        graph->setName(tr("layer %1").arg(l));
        QColor color = seriesColor(l, palette());
        color.setAlphaF(0.6f);
        graph->setPen(QPen(color, 1.2));
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    }
    QCPGraph* mean = m_idlePlot->graph(0);
    mean->setData(lengths, meanIdle, true);
    mean->setName(tr("mean over layers"));
    mean->setPen(QPen(palette().color(QPalette::WindowText), 2.5));
    const double maxLength = lengths.isEmpty() ? 10.0 : lengths.back() + 1.0;
    m_idlePlot->xAxis->setRange(0, maxLength);
    m_idlePlot->replot(QCustomPlot::rpQueuedReplot);

    if (m_usePlot->graphCount() == 0) {
        m_usePlot->addGraph();
        m_usePlot->addGraph();
    }
    m_usePlot->graph(0)->setData(lengths, use, true);
    m_usePlot->graph(0)->setPen(QPen(seriesColor(0, palette()), 2.5));
    m_usePlot->graph(0)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 5));
    m_usePlot->graph(1)->setData({0.0, maxLength}, {100.0, 100.0}, true);
    m_usePlot->graph(1)->setPen(QPen(semanticColors(palette()).reference, 1.5, Qt::DashLine));
    m_usePlot->xAxis->setRange(0, maxLength);
    m_usePlot->yAxis->setRange(0, 105);
    m_usePlot->replot(QCustomPlot::rpQueuedReplot);

    const int experts = m_stats.experts();
    if (m_stats.sentences() == 0) {
        m_idleText->setText(
            tr("<b>Idle experts vs. length</b> (the paper's Fig. 4)<br>For each sentence and "
               "MoE layer: the share of the layer's experts that none of its tokens used. Run "
               "the lesson to fill the plot."));
        m_useText->setText(
            tr("<b>Expert memory actually used</b> (Fig. 2)<br>With every expert resident, how "
               "much of that memory does one sentence need?"));
    } else {
        const double shortIdle = points.front().meanIdleFraction * 100.0;
        const double longIdle = points.back().meanIdleFraction * 100.0;
        // With few experts per layer long sentences do use them all; say so instead of "even".
        const QString longLength = QString::number(points.back().length, 'f', 0);
        const QString longIdleText = QString::number(longIdle, 'f', 0);
        const QString longCase =
            longIdle >= 10.0
                ? tr("and even at %1 tokens <b>%2%</b> stay idle").arg(longLength, longIdleText)
                : tr("while at %1 tokens only <b>%2%</b> stay idle: with as few as %3 experts per "
                     "layer a long sentence needs nearly all of them, unlike the paper's 128 and 256")
                      .arg(longLength, longIdleText)
                      .arg(experts);
        m_idleText->setText(
            tr("<b>Idle experts vs. length</b> (the paper's Fig. 4)<br>Each layer has %1 "
               "experts, but a sentence of %2 tokens leaves <b>%3%</b> of them idle, %4. A token "
               "uses one expert, and the tokens of a sentence often share experts.<br>Over all "
               "%5 sentences: %6% idle.")
                .arg(experts)
                .arg(points.front().length, 0, 'f', 0)
                .arg(shortIdle, 0, 'f', 0)
                .arg(longCase)
                .arg(m_stats.sentences())
                .arg(m_stats.meanIdleFraction() * 100.0, 0, 'f', 1));
        const double meanUse = 100.0 - m_stats.meanIdleFraction() * 100.0;
        m_useText->setText(
            tr("<b>Expert memory actually used</b> (Fig. 2)<br>Keeping all experts resident takes %1 (dashed "
               "line: 100%). A sentence needs only the experts its tokens chose: on average %2% of that "
               "memory, "
               "about %3. The rest is what SiDA leaves in host memory, choosing the experts ahead of time "
               "with its predictor.")
                .arg(formatBytes(m_totalExpertBytes))
                .arg(meanUse, 0, 'f', 1)
                .arg(formatBytes(m_totalExpertBytes * meanUse / 100.0)));
    }
    redrawUsage();
}

void SparsityView::redrawUsage() {
    const int layer = m_histogramLayer->currentData().toInt();
    QVector<double> keys;
    QVector<double> shares;
    int64_t total = 0;
    int64_t top = 0;
    int unused = 0;
    if (layer >= 0 && layer < m_stats.layers()) {
        const auto& usage = m_stats.usage(layer);
        for (int64_t u : usage) total += u;
        for (size_t e = 0; e < usage.size(); ++e) {
            keys << static_cast<double>(e);
            shares << (total == 0 ? 0.0 : 100.0 * static_cast<double>(usage[e]) / static_cast<double>(total));
            top = std::max(top, usage[e]);
            unused += usage[e] == 0 ? 1 : 0;
        }
    }
    m_histogram->setData(keys, shares, true);
    m_histogram->setWidth(0.8);
    m_histogramPlot->xAxis->setRange(-0.6, std::max<double>(static_cast<double>(keys.size()), 1.0) - 0.4);
    double maxShare = 1.0;
    for (double s : shares) maxShare = std::max(maxShare, s);
    m_histogramPlot->yAxis->setRange(0, maxShare * 1.15);
    m_histogramPlot->replot(QCustomPlot::rpQueuedReplot);
    if (total == 0) {
        m_histogramText->setText(tr("<b>Expert usage</b><br>How a layer's tokens spread over its experts."));
        return;
    }
    const double even = 100.0 / std::max(m_stats.experts(), 1);
    const QString spread =
        unused == 0
            ? tr("every expert of this layer got some tokens")
            : tr("%1 of this layer's %2 experts got no token at all").arg(unused).arg(m_stats.experts());
    m_histogramText->setText(
        tr("<b>Expert usage</b><br>Over the whole data set %1 (an even spread would give "
           "each %2%; the busiest gets %3%). Yet each sentence used only a few: which "
           "experts are needed changes from sentence to sentence, so SiDA predicts them "
           "for each batch instead of keeping a fixed set resident.")
            .arg(spread)
            .arg(even, 0, 'f', 1)
            .arg(100.0 * static_cast<double>(top) / static_cast<double>(total), 0, 'f', 1));
}

void SparsityView::applyPalette() {
    for (QCustomPlot* plot : {m_idlePlot, m_usePlot, m_histogramPlot}) applyPlotPalette(plot, palette());
    m_histogram->setPen(Qt::NoPen);
    m_histogram->setBrush(seriesColor(0, palette()));
    redraw();
}

void SparsityView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) applyPalette();
    QWidget::changeEvent(event);
}

} // namespace sida::ui
