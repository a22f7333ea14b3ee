// SPDX-License-Identifier: MIT
#include "throughput_view.h"

#include "expert_palette.h"
#include "plot_style.h"

#include <QEvent>
#include <QLabel>
#include <QVBoxLayout>

#include <qcustomplot.h>

namespace sida::ui {

ThroughputView::ThroughputView(QWidget* parent) : QWidget(parent) {
    m_summary = new QLabel(tr("No batch yet."), this);
    QFont bold = m_summary->font();
    bold.setBold(true);
    m_summary->setFont(bold);

    m_plot = createLivePlot(this);
    m_plot->plotLayout()->clear();
    auto* margins = new QCPMarginGroup(m_plot);
    const QStringList titles{tr("Throughput"), tr("Batch latency"),
                             tr("Hash queue depth (hash tables built ahead)"),
                             tr("Experts copied into the pool")};
    for (int i = 0; i < titles.size(); ++i) {
        QCPAxisRect* rect = addStackedRect(m_plot, i, titles[i]);
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
        m_rects << rect;
    }
    auto graphOn = [this](QCPAxisRect* rect, QCPAxis::AxisType valueAxis, const QString& name) {
        QCPGraph* graph = m_plot->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(valueAxis));
        graph->setName(name);
        return graph;
    };
    m_rects[0]->axis(QCPAxis::atRight)->setVisible(true);
    m_samples = graphOn(m_rects[0], QCPAxis::atLeft, tr("samples/s"));
    m_tokens = graphOn(m_rects[0], QCPAxis::atRight, tr("tokens/s"));
    m_rects[0]->axis(QCPAxis::atLeft)->setLabel(tr("samples/s"));
    m_rects[0]->axis(QCPAxis::atRight)->setLabel(tr("tokens/s"));
    m_latency = graphOn(m_rects[1], QCPAxis::atLeft, tr("batch latency"));
    m_rects[1]->axis(QCPAxis::atLeft)->setLabel(tr("ms"));
    m_queue = graphOn(m_rects[2], QCPAxis::atLeft, tr("queue depth"));
    m_queue->setLineStyle(QCPGraph::lsStepLeft);
    m_rects[2]->axis(QCPAxis::atLeft)->setLabel(tr("tables"));
    m_copied = graphOn(m_rects[3], QCPAxis::atLeft, tr("bytes copied/s"));
    m_rects[3]->axis(QCPAxis::atBottom)->setLabel(tr("seconds since the pipeline started"));
    for (QCPAxisRect* rect : m_rects) rect->setMinimumSize(100, 60);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(m_plot, 1);
    applyPalette();
    clear();
}

void ThroughputView::clear() {
    m_series.clear();
    m_copiedDivisor = 1.0;
    for (int i = 0; i < m_plot->graphCount(); ++i) m_plot->graph(i)->data()->clear();
    for (QCPAxisRect* rect : m_rects) {
        rect->axis(QCPAxis::atBottom)->setRange(0, 10);
        rect->axis(QCPAxis::atLeft)->setRange(0, 1);
    }
    m_summary->setText(tr("No batch yet."));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

int ThroughputView::pointCount() const { return m_samples->dataCount(); }

QList<ThroughputView::CurveColours> ThroughputView::throughputCurveColours() const {
    QList<CurveColours> colours;
    for (const QCPGraph* graph : {m_samples, m_tokens})
        colours.append({graph->name(), graph->pen().color(), graph->valueAxis()->labelColor(),
                        graph->valueAxis()->tickLabelColor()});
    return colours;
}

void ThroughputView::addTraces(const QList<TracePtr>& traces) {
    for (const TracePtr& trace : traces) {
        const ThroughputPoint& p = m_series.add(*trace);
        m_samples->addData(p.seconds, p.samplesPerSecond);
        m_tokens->addData(p.seconds, p.tokensPerSecond);
        m_latency->addData(p.seconds, p.batchLatencyMs);
        m_queue->addData(p.seconds, p.hashQueueDepth);
        m_copied->addData(p.seconds, p.bytesCopiedPerSecond / m_copiedDivisor);
        m_dirty = true;
    }
}

void ThroughputView::refresh() {
    if (!m_dirty || m_series.points().empty()) return;
    m_dirty = false;
    const auto& points = m_series.points();
    const double oldest = points.front().seconds;
    for (int i = 0; i < m_plot->graphCount(); ++i) m_plot->graph(i)->data()->removeBefore(oldest);

    const ThroughputPoint& last = points.back();
    const double end = last.seconds;
    const double start = std::max(oldest, end - kWindowSeconds);
    double maxCopied = 0.0;
    for (const ThroughputPoint& p : points)
        if (p.seconds >= start) maxCopied = std::max(maxCopied, p.bytesCopiedPerSecond);
    const ByteUnit unit = byteUnitFor(maxCopied);
    if (unit.divisor != m_copiedDivisor) {
        // Bytes per second are drawn in one unit for the whole window.
        m_copiedDivisor = unit.divisor;
        m_copied->data()->clear();
        for (const ThroughputPoint& p : points)
            m_copied->addData(p.seconds, p.bytesCopiedPerSecond / m_copiedDivisor);
    }
    m_rects[3]->axis(QCPAxis::atLeft)->setLabel(tr("%1/s").arg(unit.name));

    for (QCPAxisRect* rect : m_rects)
        rect->axis(QCPAxis::atBottom)->setRange(start, std::max(end, start + 1.0));
    bool found = false;
    for (QCPGraph* graph : {m_samples, m_tokens, m_latency, m_queue, m_copied}) {
        QCPRange range = graph->getValueRange(found, QCP::sdBoth, QCPRange(start, end));
        if (!found) continue;
        // An idle series (nothing copied) keeps a readable 0..1 axis instead of 0..1e-9.
        graph->valueAxis()->setRange(0, range.upper > 0 ? range.upper * 1.15 : 1.0);
    }
    m_summary->setText(tr("%1 samples/s · %2 tokens/s · batch %3 ms · hash queue %4 · %5/s copied")
                           .arg(last.samplesPerSecond, 0, 'f', 1)
                           .arg(last.tokensPerSecond, 0, 'f', 0)
                           .arg(last.batchLatencyMs, 0, 'f', 1)
                           .arg(last.hashQueueDepth)
                           .arg(formatBytes(last.bytesCopiedPerSecond)));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void ThroughputView::applyPalette() {
    applyPlotPalette(m_plot, palette());
    // Two curves share the throughput plot, one per value axis: each axis takes its curve's
    // colour, so no legend has to cover the data to say which is which.
    for (const auto& [graph, colorIndex] : {std::pair{m_samples, 0}, std::pair{m_tokens, 1}}) {
        const QColor color = seriesColor(colorIndex, palette());
        graph->setPen(QPen(color, 1.5));
        graph->valueAxis()->setLabelColor(color);
        graph->valueAxis()->setTickLabelColor(color);
    }
    m_latency->setPen(QPen(seriesColor(2, palette()), 1.5));
    m_queue->setPen(QPen(seriesColor(3, palette()), 1.5));
    QColor fill = seriesColor(3, palette());
    fill.setAlphaF(0.3f);
    m_queue->setBrush(fill);
    m_copied->setPen(QPen(seriesColor(4, palette()), 1.5));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void ThroughputView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) applyPalette();
    QWidget::changeEvent(event);
}

} // namespace sida::ui
