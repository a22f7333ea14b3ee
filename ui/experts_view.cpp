// SPDX-License-Identifier: MIT
#include "experts_view.h"

#include "expert_palette.h"

#include <QEvent>
#include <QHelpEvent>
#include <QLabel>
#include <QPainter>
#include <QPainterPath>
#include <QScrollArea>
#include <QToolTip>
#include <QVBoxLayout>

namespace sida::ui {

namespace {

// A small corner triangle: top-left for "copied in", top-right for "evicted".
QPainterPath cornerMark(const QRectF& cell, bool left) {
    const double size = std::max(3.0, cell.width() * 0.45);
    QPainterPath path;
    if (left) {
        path.moveTo(cell.topLeft());
        path.lineTo(cell.left() + size, cell.top());
        path.lineTo(cell.left(), cell.top() + size);
    } else {
        path.moveTo(cell.topRight());
        path.lineTo(cell.right() - size, cell.top());
        path.lineTo(cell.right(), cell.top() + size);
    }
    path.closeSubpath();
    return path;
}

} // namespace

ExpertStrips::ExpertStrips(const ExpertActivity& activity, QWidget* parent)
    : QWidget(parent), m_activity(activity) {
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Minimum);
}

void ExpertStrips::relayout() {
    // The label has two lines ("L0 · block 1" over "16/32 resident"): a strip of small cells is made
    // tall enough for them instead of clipping them.
    ExpertStripMetrics metrics;
    metrics.minStripHeight = 2.0 * fontMetrics().lineSpacing() + 2.0;
    m_layout = ExpertStripLayout(width(), static_cast<int>(m_activity.layers().size()), m_activity.experts(),
                                 metrics);
    const int height = static_cast<int>(std::ceil(m_layout.contentHeight()));
    if (minimumHeight() != height) setMinimumHeight(height);
}

void ExpertStrips::refresh() {
    relayout();
    update();
}

QSize ExpertStrips::sizeHint() const { return {640, static_cast<int>(m_layout.contentHeight())}; }

void ExpertStrips::resizeEvent(QResizeEvent* event) {
    relayout();
    QWidget::resizeEvent(event);
}

void ExpertStrips::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    const SemanticColors colors = semanticColors(palette());
    painter.fillRect(rect(), palette().color(QPalette::Base));
    const auto& layers = m_activity.layers();
    const bool residencyKnown = m_activity.batches() > 0;
    for (int l = 0; l < static_cast<int>(layers.size()); ++l) {
        const ExpertActivity::Layer& layer = layers[static_cast<size_t>(l)];
        painter.setPen(colors.text);
        const QString label = residencyKnown ? tr("L%1 · block %2\n%3/%4 resident")
                                                   .arg(l)
                                                   .arg(layer.block)
                                                   .arg(m_activity.residentCount(l))
                                                   .arg(m_activity.experts())
                                             : tr("L%1 · block %2").arg(l).arg(layer.block);
        painter.drawText(m_layout.labelRect(l), Qt::AlignLeft | Qt::AlignVCenter, label);
        for (int e = 0; e < m_activity.experts(); ++e) {
            const QRectF cell = m_layout.cellRect(l, e);
            const bool resident = layer.resident[static_cast<size_t>(e)];
            QColor fill = usageColor(m_activity.usageShare(l, e), palette());
            if (!resident) fill.setAlphaF(0.45f); // host-only experts recede
            painter.fillRect(cell, fill);
            if (resident) {
                painter.setPen(QPen(colors.resident, cell.width() >= 12 ? 2.0 : 1.0));
                painter.setBrush(Qt::NoBrush);
                painter.drawRect(cell.adjusted(0.5, 0.5, -0.5, -0.5));
            }
            painter.setPen(Qt::NoPen);
            if (layer.copiedIn[static_cast<size_t>(e)])
                painter.fillPath(cornerMark(cell, true), colors.copiedIn);
            if (layer.evicted[static_cast<size_t>(e)])
                painter.fillPath(cornerMark(cell, false), colors.evicted);
            if (cell.width() >= 22) {
                painter.setPen(colors.text);
                QFont small = font();
                small.setPointSizeF(std::max(6.0, font().pointSizeF() * 0.7));
                painter.setFont(small);
                painter.drawText(cell, Qt::AlignCenter, QString::number(e));
                painter.setFont(font());
            }
        }
    }
}

bool ExpertStrips::event(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        const auto* help = static_cast<QHelpEvent*>(event);
        if (const auto cell = m_layout.cellAt(help->pos()))
            QToolTip::showText(help->globalPos(), m_activity.describe(cell->layer, cell->expert), this);
        else
            QToolTip::hideText();
        return true;
    }
    return QWidget::event(event);
}

ExpertsView::ExpertsView(QWidget* parent) : QWidget(parent) {
    m_summary = new QLabel(tr("No batch yet."), this);
    m_summary->setWordWrap(true);
    auto* legend = new QLabel(
        tr("Fill: how often the expert was used (darker/brighter is more). Green frame: resident in the "
           "expert pool; faded: only in host memory. Blue corner: copied in by the last batch; red "
           "corner: evicted by it. Hover an expert for its numbers."),
        this);
    legend->setWordWrap(true);
    legend->setForegroundRole(QPalette::PlaceholderText);
    m_strips = new ExpertStrips(m_activity, this);
    m_scroll = new QScrollArea(this);
    m_scroll->setWidget(m_strips);
    m_scroll->setWidgetResizable(true);
    m_scroll->setFrameShape(QFrame::NoFrame);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(m_scroll, 1);
    layout->addWidget(legend);
}

void ExpertsView::reset(const ModelInfo& info) {
    m_activity.reset(info.moeBlocks, static_cast<int>(info.config.num_experts));
    m_summary->setText(tr("%1 MoE layers × %2 experts. No batch yet.")
                           .arg(info.moeBlocks.size())
                           .arg(info.config.num_experts));
    m_strips->refresh();
}

void ExpertsView::addTraces(const QList<TracePtr>& traces) {
    for (const TracePtr& trace : traces) m_activity.add(*trace);
    m_dirty = m_dirty || !traces.isEmpty();
}

void ExpertsView::refresh() {
    if (!m_dirty) return;
    m_dirty = false;
    updateSummary();
    m_strips->refresh();
}

void ExpertsView::updateSummary() {
    int resident = 0;
    int copied = 0;
    int evicted = 0;
    for (int l = 0; l < static_cast<int>(m_activity.layers().size()); ++l) {
        const auto& layer = m_activity.layers()[static_cast<size_t>(l)];
        resident += m_activity.residentCount(l);
        copied += static_cast<int>(std::count(layer.copiedIn.begin(), layer.copiedIn.end(), true));
        evicted += static_cast<int>(std::count(layer.evicted.begin(), layer.evicted.end(), true));
    }
    const int total = m_activity.experts() * static_cast<int>(m_activity.layers().size());
    const QString where = m_activity.isCuda() ? tr("on the GPU") : tr("in the RAM pool (CPU)");
    m_summary->setText(tr("%1 of %2 experts resident %3 after %4 batches; the last one copied in %5 and "
                          "evicted %6.")
                           .arg(resident)
                           .arg(total)
                           .arg(where)
                           .arg(m_activity.batches())
                           .arg(copied)
                           .arg(evicted));
}

} // namespace sida::ui
