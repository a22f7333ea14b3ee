// SPDX-License-Identifier: MIT
#include "predictor_view.h"

#include "expert_palette.h"
#include "plot_style.h"

#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <qcustomplot.h>

namespace sida::ui {

PredictorView::PredictorView(QWidget* parent) : QWidget(parent) {
    m_misses = new MissListModel(this);
    m_filter = new MissFilterProxy(this);
    m_filter->setSourceModel(m_misses);

    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    QFont bold = m_summary->font();
    bold.setBold(true);
    m_summary->setFont(bold);
    m_hint = new QLabel(this);
    m_hint->setWordWrap(true);
    m_hint->setForegroundRole(QPalette::PlaceholderText);

    m_ratesPlot = createLivePlot(this);
    m_top1 = new QCPBars(m_ratesPlot->xAxis, m_ratesPlot->yAxis);
    m_top1->setName(tr("top-1 hit rate"));
    m_topK = new QCPBars(m_ratesPlot->xAxis, m_ratesPlot->yAxis);
    m_topK->setName(tr("top-k hit rate"));
    auto* group = new QCPBarsGroup(m_ratesPlot);
    m_top1->setBarsGroup(group);
    m_topK->setBarsGroup(group);
    m_top1->setWidth(0.35);
    m_topK->setWidth(0.35);
    m_ratesPlot->yAxis->setRange(0, 105);
    m_ratesPlot->yAxis->setLabel(tr("% of tokens"));
    m_ratesPlot->xAxis->setLabel(tr("MoE layer"));
    m_ratesPlot->legend->setVisible(true);
    m_ratesPlot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignRight | Qt::AlignBottom);

    m_confusionPlot = createLivePlot(this);
    m_confusion = new QCPColorMap(m_confusionPlot->xAxis, m_confusionPlot->yAxis);
    m_confusion->setInterpolate(false);
    m_confusionScale = new QCPColorScale(m_confusionPlot);
    m_confusionScale->axis()->setLabel(tr("tokens"));
    m_confusionPlot->plotLayout()->addElement(0, 1, m_confusionScale);
    m_confusion->setColorScale(m_confusionScale);
    for (QCPAxis* axis : {m_confusionPlot->xAxis, m_confusionPlot->yAxis}) {
        auto ticks = QSharedPointer<QCPAxisTickerFixed>::create();
        ticks->setTickStep(1.0);
        ticks->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticks);
        axis->setSubTicks(false);
    }
    m_confusionPlot->xAxis->setLabel(tr("router's expert"));
    m_confusionPlot->yAxis->setLabel(tr("predicted expert (top-1)"));
    m_confusionLayer = new QComboBox(this);
    m_confusionLayer->setToolTip(tr("The layer whose confusion matrix is shown"));
    connect(m_confusionLayer, &QComboBox::currentIndexChanged, this, [this] { rebuildConfusion(); });

    m_layerFilter = new QComboBox(this);
    m_layerFilter->setToolTip(tr("Show the misses of one layer"));
    m_expertFilter = new QComboBox(this);
    m_expertFilter->setToolTip(tr("Show the misses where this expert was predicted or chosen by the router"));
    connect(m_layerFilter, &QComboBox::currentIndexChanged, this,
            [this] { m_filter->setLayer(m_layerFilter->currentData().toInt()); });
    connect(m_expertFilter, &QComboBox::currentIndexChanged, this,
            [this] { m_filter->setExpert(m_expertFilter->currentData().toInt()); });

    m_table = new QTableView(this);
    m_table->setModel(m_filter);
    m_table->setSortingEnabled(true);
    // Newest batch first: while a job runs, the misses it causes appear on top.
    m_table->sortByColumn(MissListModel::BatchColumn, Qt::DescendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(MissListModel::SentenceColumn, QHeaderView::Stretch);
    m_table->setColumnWidth(MissListModel::BatchColumn,
                            fontMetrics().horizontalAdvance(QStringLiteral("Batch00")) + 18);
    m_table->setToolTip(tr("Click a miss to open its sentence's hash table"));
    connect(m_table, &QTableView::clicked, this, &PredictorView::onMissActivated);
    connect(m_table, &QTableView::activated, this, &PredictorView::onMissActivated);

    auto* confusionBox = new QWidget(this);
    auto* confusionLayout = new QVBoxLayout(confusionBox);
    confusionLayout->setContentsMargins(0, 0, 0, 0);
    auto* confusionHeader = new QHBoxLayout;
    confusionHeader->addWidget(new QLabel(tr("Predicted vs router, layer:"), this));
    confusionHeader->addWidget(m_confusionLayer, 1);
    confusionLayout->addLayout(confusionHeader);
    confusionLayout->addWidget(m_confusionPlot, 1);

    auto* plots = new QSplitter(Qt::Horizontal, this);
    plots->addWidget(m_ratesPlot);
    plots->addWidget(confusionBox);
    plots->setSizes({500, 500});

    auto* missBox = new QWidget(this);
    auto* missLayout = new QVBoxLayout(missBox);
    missLayout->setContentsMargins(0, 0, 0, 0);
    auto* filters = new QHBoxLayout;
    filters->addWidget(new QLabel(tr("Misses — layer:"), this));
    filters->addWidget(m_layerFilter);
    filters->addWidget(new QLabel(tr("expert:"), this));
    filters->addWidget(m_expertFilter);
    filters->addStretch(1);
    missLayout->addLayout(filters);
    missLayout->addWidget(m_table, 1);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(plots);
    split->addWidget(missBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(m_hint);
    layout->addWidget(split, 1);
    applyPalette();
}

void PredictorView::reset(const ModelInfo& info) {
    m_stats.clear();
    m_misses->clear();
    m_layers = static_cast<int>(info.moeBlocks.size());
    m_experts = static_cast<int>(info.config.num_experts);
    m_confusionLayer->blockSignals(true);
    m_confusionLayer->clear();
    for (int l = 0; l < m_layers; ++l)
        m_confusionLayer->addItem(tr("%1 (block %2)").arg(l).arg(info.moeBlocks[static_cast<size_t>(l)]), l);
    m_confusionLayer->blockSignals(false);
    fillFilterChoices();
    m_summary->setText(tr("No comparison between the predictor and the routers yet."));
    m_dirty = true;
    refresh();
}

void PredictorView::fillFilterChoices() {
    m_layerFilter->clear();
    m_layerFilter->addItem(tr("all"), -1);
    for (int l = 0; l < m_layers; ++l) m_layerFilter->addItem(QString::number(l), l);
    m_expertFilter->clear();
    m_expertFilter->addItem(tr("all"), -1);
    for (int e = 0; e < m_experts; ++e) m_expertFilter->addItem(QString::number(e), e);
}

void PredictorView::setServingOptions(const PipelineOptions& options, bool hasPredictor) {
    if (!hasPredictor)
        m_hint->setText(tr("This model has no predictor: train one on the Model page, then choose the SiDA "
                           "policy with the shadow router on to compare its hash tables with the routers."));
    else if (options.policy == Policy::Standard || options.policy == Policy::OnDemand)
        m_hint->setText(
            tr("The %1 policy does not use the predictor. Choose SiDA or SiDA (exact) in Settings "
               "to see its hits and misses.")
                .arg(policyTitle(options.policy)));
    else if (options.policy == Policy::Sida && !options.shadowRouter)
        m_hint->setText(
            tr("The shadow router is off, so misses cannot be detected: turn it on in Settings."));
    else
        m_hint->setText(tr("Each batch's hash table is compared with the routers' own choices (top-%1).")
                            .arg(options.topK));
}

void PredictorView::addTraces(const QList<TracePtr>& traces) {
    for (const TracePtr& trace : traces) m_stats.add(*trace);
    m_misses->addTraces(traces);
    m_dirty = m_dirty || !traces.isEmpty();
}

void PredictorView::refresh() {
    if (!m_dirty) return;
    m_dirty = false;
    if (m_stats.compared() > 0) {
        int topK = 1;
        for (const auto& layer : m_stats.layers()) topK = std::max(topK, layer.topK);
        // With top-1 tables the top-k rate is the top-1 rate: say it once.
        const QString rates = topK > 1 ? tr("top-1 hit rate %1%, top-%2 %3%")
                                             .arg(m_stats.top1Rate() * 100.0, 0, 'f', 1)
                                             .arg(topK)
                                             .arg(m_stats.topKRate() * 100.0, 0, 'f', 1)
                                       : tr("top-1 hit rate %1%").arg(m_stats.top1Rate() * 100.0, 0, 'f', 1);
        m_summary->setText(tr("%1 token decisions compared: %2; %3 misses listed%4.")
                               .arg(m_stats.compared())
                               .arg(rates)
                               .arg(m_misses->rowCount())
                               .arg(m_misses->dropped() > 0
                                        ? tr(" (%1 older ones dropped)").arg(m_misses->dropped())
                                        : QString()));
    }
    rebuildHitRates();
    rebuildConfusion();
}

void PredictorView::rebuildHitRates() {
    QVector<double> keys;
    QVector<double> top1;
    QVector<double> topK;
    auto ticks = QSharedPointer<QCPAxisTickerText>::create();
    const auto& layers = m_stats.layers();
    for (int l = 0; l < m_layers; ++l) {
        keys << l;
        const bool known = static_cast<size_t>(l) < layers.size();
        top1 << (known ? layers[static_cast<size_t>(l)].top1Rate() * 100.0 : 0.0);
        topK << (known ? layers[static_cast<size_t>(l)].topKRate() * 100.0 : 0.0);
        ticks->addTick(l, tr("L%1").arg(l));
    }
    m_top1->setData(keys, top1, true);
    m_topK->setData(keys, topK, true);
    m_ratesPlot->xAxis->setTicker(ticks);
    m_ratesPlot->xAxis->setRange(-0.6, std::max(m_layers, 1) - 0.4);
    m_ratesPlot->replot(QCustomPlot::rpQueuedReplot);
}

void PredictorView::rebuildConfusion() {
    const int layer = m_confusionLayer->currentData().toInt();
    const auto& layers = m_stats.layers();
    const int experts = std::max(m_experts, 1);
    QCPColorMapData* data = m_confusion->data();
    data->setSize(experts, experts);
    data->setRange(QCPRange(0, experts - 1), QCPRange(0, experts - 1));
    double maxCount = 1.0;
    for (int p = 0; p < experts; ++p)
        for (int r = 0; r < experts; ++r) {
            const double count = static_cast<size_t>(layer) < layers.size()
                                     ? static_cast<double>(layers[static_cast<size_t>(layer)].count(p, r))
                                     : 0.0;
            data->setCell(r, p, count);
            maxCount = std::max(maxCount, count);
        }
    m_confusion->setDataRange(QCPRange(0, maxCount));
    m_confusionPlot->xAxis->setRange(-0.5, experts - 0.5);
    m_confusionPlot->yAxis->setRange(-0.5, experts - 0.5);
    m_confusionPlot->replot(QCustomPlot::rpQueuedReplot);
}

void PredictorView::onMissActivated(const QModelIndex& index) {
    if (!index.isValid()) return;
    Q_EMIT openSentence(index.data(MissListModel::BatchIndexRole).toULongLong(),
                        index.data(MissListModel::RequestIdRole).toULongLong(),
                        index.data(MissListModel::TokenRole).toInt());
}

void PredictorView::applyPalette() {
    applyPlotPalette(m_ratesPlot, palette());
    applyPlotPalette(m_confusionPlot, palette());
    applyAxisPalette(m_confusionScale->axis(), palette());
    m_top1->setPen(Qt::NoPen);
    m_top1->setBrush(seriesColor(0, palette()));
    m_topK->setPen(Qt::NoPen);
    m_topK->setBrush(seriesColor(2, palette()));
    m_confusion->setGradient(countGradient(palette()));
    m_ratesPlot->replot(QCustomPlot::rpQueuedReplot);
    m_confusionPlot->replot(QCustomPlot::rpQueuedReplot);
}

void PredictorView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) applyPalette();
    QWidget::changeEvent(event);
}

} // namespace sida::ui
