// SPDX-License-Identifier: MIT
#include "hash_table_view.h"

#include "expert_palette.h"
#include "plot_style.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

namespace sida::ui {

namespace {

// Past this many tokens, only every n-th token is labelled, so labels never overlap.
constexpr int kMaxTokenLabels = 48;

} // namespace

HashTableView::HashTableView(QWidget* parent) : QWidget(parent) {
    m_title = new QLabel(tr("No batch yet: classify something to see its hash table."), this);
    m_title->setWordWrap(true);
    m_mode = new QLabel(this);
    m_followButton = new QToolButton(this);
    m_followButton->setText(tr("Follow latest batch"));
    m_followButton->setToolTip(tr("Stop showing the picked sentence and follow each new batch (F)"));
    m_followButton->setShortcut(QKeySequence(Qt::Key_F));
    connect(m_followButton, &QToolButton::clicked, this, &HashTableView::followLatest);

    auto* legend = new QLabel(tr("Colour: the expert the hash table chose for the token (top-1); without "
                                 "a hash table (Standard, On demand), the expert that ran. × marks a miss: "
                                 "the shadow router chose another expert. Hover a cell for the top-k and "
                                 "the router's choice."),
                              this);
    legend->setWordWrap(true);
    legend->setForegroundRole(QPalette::PlaceholderText);

    m_plot = createLivePlot(this);
    m_plot->setMouseTracking(true);
    m_plot->installEventFilter(this);
    m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    m_map->setInterpolate(false);
    m_scale = new QCPColorScale(m_plot);
    m_scale->setType(QCPAxis::atRight);
    m_scale->axis()->setLabel(tr("expert"));
    m_plot->plotLayout()->addElement(0, 1, m_scale);
    m_map->setColorScale(m_scale);
    auto* margins = new QCPMarginGroup(m_plot);
    m_plot->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);

    m_misses = m_plot->addGraph();
    m_misses->setLineStyle(QCPGraph::lsNone);
    m_misses->setName(tr("miss"));
    m_tokenOutline = new QCPItemRect(m_plot);
    m_tokenOutline->setVisible(false);
    m_tokenOutline->setBrush(Qt::NoBrush);

    m_plot->xAxis->setLabel(tr("token"));
    m_plot->xAxis->setTickLabelRotation(60);
    m_plot->yAxis->setLabel(tr("MoE layer"));
    m_plot->xAxis->grid()->setVisible(false);
    m_plot->yAxis->grid()->setVisible(false);

    auto* header = new QHBoxLayout;
    header->addWidget(m_mode, 1);
    header->addWidget(m_followButton);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_title);
    layout->addLayout(header);
    layout->addWidget(m_plot, 1);
    layout->addWidget(legend);
    applyPalette();
    followLatest();
}

void HashTableView::followLatest() {
    const bool changed = !m_following;
    m_following = true;
    m_outlinedToken = -1;
    m_mode->setText(tr("Following the newest batch (its last sentence)."));
    m_followButton->setEnabled(false);
    if (changed) Q_EMIT followingChanged(true);
}

void HashTableView::pin(const TracePtr& trace, quint64 requestId, int token) {
    if (!trace) return;
    const int sequence = HashTableGrid::sequenceOfRequest(*trace, requestId);
    if (sequence < 0) {
        showUnavailable(tr("Request %1 is not in batch %2.").arg(requestId).arg(trace->batchIndex));
        return;
    }
    const bool changed = m_following;
    m_following = false;
    m_shown = trace;
    m_outlinedToken = token;
    m_grid = HashTableGrid::fromTrace(*trace, sequence);
    m_mode->setText(token >= 0 ? tr("Showing the picked sentence, token %1 outlined.").arg(token)
                               : tr("Showing the sentence selected in the results table."));
    m_followButton->setEnabled(true);
    rebuild();
    if (changed) Q_EMIT followingChanged(false);
}

void HashTableView::showUnavailable(const QString& why) {
    const bool changed = m_following;
    m_following = false;
    m_followButton->setEnabled(true);
    m_mode->setText(why);
    if (changed) Q_EMIT followingChanged(false);
}

void HashTableView::updateLatest(const TracePtr& latest) {
    if (!m_following || !latest || latest == m_shown || latest->sequences.empty()) return;
    m_shown = latest;
    m_grid = HashTableGrid::fromTrace(*latest, static_cast<int>(latest->sequences.size()) - 1);
    rebuild();
}

void HashTableView::clear() {
    m_shown.reset();
    m_grid = HashTableGrid();
    m_map->data()->clear();
    m_misses->data()->clear();
    m_title->setText(tr("No batch yet: classify something to see its hash table."));
    followLatest();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QSize HashTableView::heatmapSize() const { return {m_map->data()->keySize(), m_map->data()->valueSize()}; }

void HashTableView::rebuild() {
    m_title->setText(m_grid.title());
    const int tokens = m_grid.tokenCount();
    const int layers = m_grid.layerCount();
    if (m_grid.isEmpty()) return;
    QCPColorMapData* data = m_map->data();
    data->setSize(tokens, layers);
    data->setRange(QCPRange(0, tokens - 1), QCPRange(0, layers - 1));
    for (int l = 0; l < layers; ++l)
        for (int t = 0; t < tokens; ++t) data->setCell(t, l, m_grid.colourExpert(t, l));
    const int experts = std::max(m_grid.numExperts(), 1);
    m_map->setGradient(expertGradient(experts));
    m_map->setDataRange(expertDataRange(experts));
    auto expertTicks = QSharedPointer<QCPAxisTickerFixed>::create();
    expertTicks->setTickStep(1.0);
    expertTicks->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    m_scale->axis()->setTicker(expertTicks);
    m_scale->axis()->setSubTicks(false);

    QVector<double> missX;
    QVector<double> missY;
    for (const auto& [t, l] : m_grid.missCells()) {
        missX << t;
        missY << l;
    }
    m_misses->setData(missX, missY, true);

    auto tokenTicks = QSharedPointer<QCPAxisTickerText>::create();
    const int step = std::max(1, (tokens + kMaxTokenLabels - 1) / kMaxTokenLabels);
    for (int t = 0; t < tokens; t += step) tokenTicks->addTick(t, m_grid.tokenLabel(t));
    m_plot->xAxis->setTicker(tokenTicks);
    auto layerTicks = QSharedPointer<QCPAxisTickerText>::create();
    for (int l = 0; l < layers; ++l) layerTicks->addTick(l, tr("L%1 · block %2").arg(l).arg(m_grid.block(l)));
    m_plot->yAxis->setTicker(layerTicks);
    m_plot->xAxis->setRange(-0.5, tokens - 0.5);
    m_plot->yAxis->setRange(-0.5, layers - 0.5);

    m_tokenOutline->setVisible(m_outlinedToken >= 0 && m_outlinedToken < tokens);
    if (m_tokenOutline->visible()) {
        m_tokenOutline->topLeft->setCoords(m_outlinedToken - 0.5, layers - 0.5);
        m_tokenOutline->bottomRight->setCoords(m_outlinedToken + 0.5, -0.5);
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HashTableView::applyPalette() {
    applyPlotPalette(m_plot, palette());
    const SemanticColors c = semanticColors(palette());
    // A cross in the text colour with a halo in the background colour reads on every expert colour.
    m_misses->setPen(QPen(c.miss, 2));
    m_misses->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QPen(c.miss, 2), Qt::NoBrush, 9));
    m_tokenOutline->setPen(QPen(c.reference, 3));
    applyAxisPalette(m_scale->axis(), palette());
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HashTableView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) applyPalette();
    QWidget::changeEvent(event);
}

bool HashTableView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_plot && event->type() == QEvent::ToolTip) {
        showTooltipAt(static_cast<QHelpEvent*>(event)->pos());
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

void HashTableView::showTooltipAt(const QPoint& position) {
    if (m_grid.isEmpty() || !m_plot->axisRect()->rect().contains(position)) {
        QToolTip::hideText();
        return;
    }
    const int token = static_cast<int>(std::lround(m_plot->xAxis->pixelToCoord(position.x())));
    const int layer = static_cast<int>(std::lround(m_plot->yAxis->pixelToCoord(position.y())));
    const QString text = m_grid.describe(token, layer);
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(m_plot->mapToGlobal(position), text, m_plot);
}

} // namespace sida::ui
