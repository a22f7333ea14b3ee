// SPDX-License-Identifier: MIT
#include "memory_view.h"

#include "expert_palette.h"
#include "plot_style.h"

#include <QEvent>
#include <QLabel>
#include <QVBoxLayout>

#include <qcustomplot.h>

namespace sida::ui {

MemoryView::MemoryView(QWidget* parent) : QWidget(parent) {
    m_title = new QLabel(this);
    QFont bold = m_title->font();
    bold.setBold(true);
    m_title->setFont(bold);
    m_note = new QLabel(this);
    m_note->setWordWrap(true);
    m_note->setForegroundRole(QPalette::PlaceholderText);

    m_plot = createLivePlot(this);
    m_nonExpert = m_plot->addGraph();
    m_nonExpert->setName(tr("non-expert weights"));
    m_experts = m_plot->addGraph();
    m_experts->setName(tr("resident experts"));
    m_other = m_plot->addGraph();
    m_other->setName(tr("other allocator use"));
    m_budget = m_plot->addGraph();
    m_budget->setName(tr("expert budget"));
    m_allResident = m_plot->addGraph();
    m_allResident->setName(tr("all experts resident"));
    // Stacked areas: each band fills down to the one below it.
    m_experts->setChannelFillGraph(m_nonExpert);
    m_other->setChannelFillGraph(m_experts);
    m_plot->xAxis->setLabel(tr("seconds since the pipeline started"));
    // The legend sits below the plot: inside it would cover the newest data.
    m_plot->legend->setVisible(true);
    // The wrap first: setFillOrder rearranges the items already in the legend by it.
    m_plot->legend->setWrap(3);
    m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    m_plot->plotLayout()->addElement(1, 0, m_plot->legend);
    m_plot->plotLayout()->setRowStretchFactor(1, 0.001);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_title);
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_note);
    applyPalette();
    clear();
}

QString MemoryView::title() const { return m_title->text(); }

void MemoryView::clear() {
    m_series.clear();
    for (int i = 0; i < m_plot->graphCount(); ++i) m_plot->graph(i)->data()->clear();
    m_title->setText(tr("Memory: no batch yet"));
    m_note->clear();
    m_plot->yAxis->setLabel(QString());
    m_plot->xAxis->setRange(0, 10);
    m_plot->yAxis->setRange(0, 1);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

int MemoryView::pointCount() const { return m_nonExpert->dataCount(); }

void MemoryView::addTraces(const QList<TracePtr>& traces) {
    for (const TracePtr& trace : traces) {
        const ByteUnit before = m_unit;
        const MemoryPoint& point = m_series.add(*trace);
        m_unit = byteUnitFor(m_series.maxBytes());
        if (m_unit.divisor != before.divisor)
            rebuildAll(); // every drawn value changes scale
        else
            appendPoint(point);
        m_dirty = true;
    }
}

void MemoryView::appendPoint(const MemoryPoint& p) {
    const double d = m_unit.divisor;
    m_nonExpert->addData(p.seconds, p.nonExpertBytes / d);
    m_experts->addData(p.seconds, p.expertsTop() / d);
    m_other->addData(p.seconds, p.otherTop() / d);
    m_budget->addData(p.seconds, p.budgetLine() / d);
    m_allResident->addData(p.seconds, p.allResidentLine() / d);
}

void MemoryView::rebuildAll() {
    for (int i = 0; i < m_plot->graphCount(); ++i) m_plot->graph(i)->data()->clear();
    for (const MemoryPoint& p : m_series.points()) appendPoint(p);
}

void MemoryView::refresh() {
    if (!m_dirty || m_series.points().empty()) return;
    m_dirty = false;
    // The series caps its points; drop what fell out of it from the graphs too.
    const double oldest = m_series.points().front().seconds;
    for (int i = 0; i < m_plot->graphCount(); ++i) m_plot->graph(i)->data()->removeBefore(oldest);

    const MemoryPoint& last = m_series.points().back();
    const bool cuda = m_series.isCuda();
    m_title->setText(
        tr("%1 over time: %2 in use (%3 experts)")
            .arg(m_series.tier(), formatBytes(last.otherTop()), formatBytes(last.residentExpertBytes)));
    m_note->setText(
        cuda ? tr("Figures from the CUDA caching allocator. The dashed lines are the expert "
                  "budget and what keeping every expert resident would take.")
             : tr("CPU mode: the expert pool lives in RAM and the memory-mapped checkpoint is the "
                  "host tier, so this shows the RAM pool, not GPU memory. The dashed lines are the "
                  "expert budget and what keeping every expert resident would take."));
    m_plot->yAxis->setLabel(cuda ? tr("GPU memory (%1)").arg(m_unit.name)
                                 : tr("RAM pool (%1)").arg(m_unit.name));
    const double end = last.seconds;
    const double start = std::max(oldest, end - kWindowSeconds);
    m_plot->xAxis->setRange(start, std::max(end, start + 1.0));
    m_plot->yAxis->setRange(0, m_series.maxBytes() / m_unit.divisor * 1.15);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void MemoryView::applyPalette() {
    applyPlotPalette(m_plot, palette());
    const SemanticColors c = semanticColors(palette());
    auto band = [](QCPGraph* graph, QColor color) {
        graph->setPen(QPen(color, 1.5));
        color.setAlphaF(0.45f);
        graph->setBrush(color);
    };
    band(m_nonExpert, seriesColor(4, palette()));
    band(m_experts, c.resident);
    band(m_other, seriesColor(1, palette()));
    m_budget->setPen(QPen(c.reference, 2, Qt::DashLine));
    m_allResident->setPen(QPen(c.text, 1.5, Qt::DashDotLine));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void MemoryView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) applyPalette();
    QWidget::changeEvent(event);
}

} // namespace sida::ui
