// SPDX-License-Identifier: MIT
#include "memory_view.h"

#include "expert_palette.h"
#include "plot_style.h"

#include <QEvent>
#include <QLabel>
#include <QVBoxLayout>

#include <qcustomplot.h>

namespace sida::ui {

namespace {

QString seconds(double ms) { return QString::number(ms / 1000.0, 'f', 2) + QStringLiteral(" s"); }

// The last value a graph draws, or 0 when it has none.
double lastValue(const QCPGraph* graph) {
    return graph->data()->isEmpty() ? 0.0 : (graph->data()->constEnd() - 1)->value;
}

// A filled band: down to its channel-fill graph when it has one, else to the axis.
void styleBand(QCPGraph* graph, QColor color) {
    graph->setPen(QPen(color, 1.5));
    color.setAlphaF(0.45f);
    graph->setBrush(color);
}

} // namespace

MemoryView::MemoryView(QWidget* parent) : QWidget(parent) {
    m_title = new QLabel(this);
    QFont bold = m_title->font();
    bold.setBold(true);
    m_title->setFont(bold);
    m_title->setWordWrap(true);
    m_note = new QLabel(this);
    m_note->setWordWrap(true);
    m_note->setForegroundRole(QPalette::PlaceholderText);

    m_plot = createLivePlot(this);
    createPlots();

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_title);
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_note);
    applyPalette();
    clear();
}

void MemoryView::createPlots() {
    m_plot->plotLayout()->clear();
    m_plot->setAutoAddPlottableToLegend(false);
    auto* margins = new QCPMarginGroup(m_plot);
    // The device pool gets the most room: it is what the budget is about.
    const std::array<double, PlotCount> stretch{3.0, 2.0, 1.5, 1.5};
    for (int i = 0; i < PlotCount; ++i) {
        m_rects[i] = addStackedRect(m_plot, i, QString());
        m_titles[i] = qobject_cast<QCPTextElement*>(m_plot->plotLayout()->element(i * 2, 0));
        m_rects[i]->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
        m_rects[i]->setMinimumSize(100, 50);
        m_plot->plotLayout()->setRowStretchFactor(i * 2 + 1, stretch[i]);
        // Each plot's legend sits right of it, at the top: inside it would cover the newest data.
        auto* side = new QCPLayoutGrid;
        m_plot->plotLayout()->addElement(i * 2 + 1, 1, side);
        m_legends[i] = new QCPLegend;
        side->addElement(0, 0, m_legends[i]);
        side->addElement(1, 0, new QCPLayoutElement(m_plot));
        side->setRowStretchFactors({0.001, 1.0});
        m_legends[i]->setLayer(QStringLiteral("legend"));
    }
    // The disk plots are short: fewer ticks keep their labels apart.
    for (Plot plot : {DiskPlot, ReadTimePlot})
        m_rects[plot]->axis(QCPAxis::atLeft)->ticker()->setTickCount(3);
    m_plot->plotLayout()->setColumnStretchFactor(1, 0.001);
    m_rects[ReadTimePlot]->axis(QCPAxis::atBottom)->setLabel(tr("seconds since the pipeline started"));
    createGraphs();
}

void MemoryView::createGraphs() {
    m_nonExpert = addGraph(PoolPlot, tr("non-expert weights"));
    m_experts = addGraph(PoolPlot, tr("experts in the pool"));
    m_other = addGraph(PoolPlot, tr("other allocator use"));
    m_budget = addGraph(PoolPlot, tr("pool budget"));
    m_allResident = addGraph(PoolPlot, tr("all experts in the pool"));
    // Stacked areas: each band fills down to the one below it.
    m_experts->setChannelFillGraph(m_nonExpert);
    m_other->setChannelFillGraph(m_experts);

    m_hostCached = addGraph(HostPlot, tr("experts in the host cache"));
    m_hostBudget = addGraph(HostPlot, tr("host cache budget"));
    m_allStored = addGraph(HostPlot, tr("all experts cached"));

    m_diskRead = addGraph(DiskPlot, tr("read from disk"));
    m_readExposed = addGraph(ReadTimePlot, tr("waited for (exposed)"));
    m_readHidden = addGraph(ReadTimePlot, tr("hidden behind compute"));
    m_readHidden->setChannelFillGraph(m_readExposed);
    // Per-batch figures hold for the whole batch: a step from the previous batch's end to this one's.
    for (QCPGraph* graph : {m_diskRead, m_readExposed, m_readHidden})
        graph->setLineStyle(QCPGraph::lsStepRight);
}

QCPGraph* MemoryView::addGraph(Plot plot, const QString& name) {
    QCPAxisRect* rect = m_rects[plot];
    QCPGraph* graph = m_plot->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    graph->setName(name);
    graph->addToLegend(m_legends[plot]);
    return graph;
}

QString MemoryView::title() const { return m_title->text(); }

QStringList MemoryView::plotTitles() const {
    QStringList titles;
    for (const QCPTextElement* title : m_titles) titles << title->text();
    return titles;
}

std::array<double, 4> MemoryView::latestDrawn() const {
    return {(lastValue(m_experts) - lastValue(m_nonExpert)) * m_poolUnit.divisor,
            lastValue(m_hostCached) * m_hostUnit.divisor, lastValue(m_diskRead) * m_diskUnit.divisor,
            lastValue(m_readExposed)};
}

void MemoryView::clear() {
    m_series.clear();
    for (int i = 0; i < m_plot->graphCount(); ++i) m_plot->graph(i)->data()->clear();
    m_title->setText(tr("Memory: no batch yet"));
    m_note->clear();
    const QStringList titles{tr("Device pool"), tr("Host cache"), tr("Disk: bytes read per batch"),
                             tr("Disk read time per batch")};
    for (int i = 0; i < PlotCount; ++i) {
        m_titles[i]->setText(titles[i]);
        m_rects[i]->axis(QCPAxis::atLeft)->setLabel(QString());
        m_rects[i]->axis(QCPAxis::atBottom)->setRange(0, 10);
        m_rects[i]->axis(QCPAxis::atLeft)->setRange(0, 1);
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

int MemoryView::pointCount() const { return m_nonExpert->dataCount(); }

void MemoryView::addTraces(const QList<TracePtr>& traces) {
    for (const TracePtr& trace : traces) {
        const MemoryPoint& point = m_series.add(*trace);
        if (updateUnits())
            rebuildAll(); // every drawn value of a plot changes scale
        else
            appendPoint(point);
        m_dirty = true;
    }
}

// Picks each byte axis's unit from the largest value it draws; true when one changed.
bool MemoryView::updateUnits() {
    const ByteUnit pool = byteUnitFor(m_series.maxBytes());
    const ByteUnit host = byteUnitFor(m_series.maxHostBytes());
    const ByteUnit disk = byteUnitFor(m_series.maxDiskBytesRead());
    const bool changed = pool.divisor != m_poolUnit.divisor || host.divisor != m_hostUnit.divisor ||
                         disk.divisor != m_diskUnit.divisor;
    m_poolUnit = pool;
    m_hostUnit = host;
    m_diskUnit = disk;
    return changed;
}

void MemoryView::appendPoint(const MemoryPoint& p) {
    const double d = m_poolUnit.divisor;
    m_nonExpert->addData(p.seconds, p.nonExpertBytes / d);
    m_experts->addData(p.seconds, p.expertsTop() / d);
    m_other->addData(p.seconds, p.otherTop() / d);
    m_budget->addData(p.seconds, p.budgetLine() / d);
    m_allResident->addData(p.seconds, p.allResidentLine() / d);
    const double h = m_hostUnit.divisor;
    m_hostCached->addData(p.seconds, p.hostResidentBytes / h);
    m_hostBudget->addData(p.seconds, p.hostBudgetBytes / h);
    m_allStored->addData(p.seconds, p.allExpertStoredBytes / h);
    m_diskRead->addData(p.seconds, p.diskBytesRead / m_diskUnit.divisor);
    m_readExposed->addData(p.seconds, p.diskReadExposedMs);
    m_readHidden->addData(p.seconds, p.diskReadMs());
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
    updateTexts(last);
    const double end = last.seconds;
    const double start = std::max(oldest, end - kWindowSeconds);
    updateRanges(start, end);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void MemoryView::updateTexts(const MemoryPoint& last) {
    const DiskTotals& disk = m_series.diskTotals();
    const QString tier = m_series.tier();
    const QString hostTier = m_series.hostTier();
    m_title->setText(tr("%1: %2 / %3 of experts · %4: %5 / %6 · disk: %7 read (%8 waited, %9 hidden) · "
                        "process %10")
                         .arg(tier, formatBytes(last.residentExpertBytes), formatBytes(last.budgetBytes),
                              hostTier, formatBytes(last.hostResidentBytes),
                              formatBytes(last.hostBudgetBytes), formatBytes(disk.bytesRead),
                              seconds(disk.exposedMs), seconds(disk.hiddenMs))
                         .arg(formatBytes(last.processResidentBytes)));
    m_titles[PoolPlot]->setText(tr("Device pool: %1, with the non-expert weights").arg(tier));
    m_titles[HostPlot]->setText(tr("Host cache: %1, experts' stored bytes").arg(hostTier));
    m_titles[DiskPlot]->setText(tr("Disk: bytes read per batch from the checkpoint (%1)").arg(m_series.io()));
    m_titles[ReadTimePlot]->setText(
        tr("Disk read time per batch: waited for by inference vs hidden behind compute"));
    const QString lines = tr("Dashed lines: the budgets. Dash-dotted: what holding every expert would "
                             "take. Read time hidden behind compute is summed over the I/O threads.");
    m_note->setText(m_series.isCuda()
                        ? tr("Device figures from the CUDA caching allocator; the host cache is %1. %2")
                              .arg(hostTier, lines)
                        : tr("CPU mode: the device pool is RAM (the RAM pool), and so is the host cache: "
                             "nothing here is GPU memory. %1")
                              .arg(lines));
    const bool cuda = m_series.isCuda();
    m_rects[PoolPlot]
        ->axis(QCPAxis::atLeft)
        ->setLabel(cuda ? tr("GPU memory (%1)").arg(m_poolUnit.name)
                        : tr("RAM pool (%1)").arg(m_poolUnit.name));
    m_rects[HostPlot]->axis(QCPAxis::atLeft)->setLabel(tr("host cache (%1)").arg(m_hostUnit.name));
    m_rects[DiskPlot]->axis(QCPAxis::atLeft)->setLabel(tr("%1 per batch").arg(m_diskUnit.name));
    m_rects[ReadTimePlot]->axis(QCPAxis::atLeft)->setLabel(tr("ms per batch"));
}

void MemoryView::updateRanges(double start, double end) {
    for (QCPAxisRect* rect : m_rects)
        rect->axis(QCPAxis::atBottom)->setRange(start, std::max(end, start + 1.0));
    m_rects[PoolPlot]->axis(QCPAxis::atLeft)->setRange(0, m_series.maxBytes() / m_poolUnit.divisor * 1.15);
    m_rects[HostPlot]
        ->axis(QCPAxis::atLeft)
        ->setRange(0, m_series.maxHostBytes() / m_hostUnit.divisor * 1.15);
    // Disk reads come in bursts (the first batches read most): the disk plots scale to what is in
    // view, so that a burst long gone does not flatten the present.
    for (QCPGraph* graph : {m_diskRead, m_readHidden}) {
        bool found = false;
        const QCPRange range = graph->getValueRange(found, QCP::sdBoth, QCPRange(start, end));
        graph->valueAxis()->setRange(0, found && range.upper > 0 ? range.upper * 1.15 : 1.0);
    }
}

void MemoryView::applyPalette() {
    applyPlotPalette(m_plot, palette());
    for (QCPLegend* legend : m_legends) applyLegendPalette(legend, palette());
    const SemanticColors c = semanticColors(palette());
    styleBand(m_nonExpert, seriesColor(4, palette()));
    // The pool's and the host cache's colours are those of the Experts view's tier marks.
    styleBand(m_experts, c.resident);
    styleBand(m_other, seriesColor(1, palette()));
    styleBand(m_hostCached, c.host);
    // A cache is usually full, so its budget line runs along the top of its band: drawn in the text
    // colour it stays visible on either band.
    for (QCPGraph* budget : {m_budget, m_hostBudget}) budget->setPen(QPen(c.text, 2, Qt::DashLine));
    for (QCPGraph* all : {m_allResident, m_allStored}) all->setPen(QPen(c.reference, 1.5, Qt::DashDotLine));
    styleBand(m_diskRead, seriesColor(3, palette()));
    // Waited-for against hidden read time: red and blue, apart for every common colour deficiency.
    styleBand(m_readExposed, c.evicted);
    styleBand(m_readHidden, seriesColor(0, palette()));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void MemoryView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) applyPalette();
    QWidget::changeEvent(event);
}

} // namespace sida::ui
