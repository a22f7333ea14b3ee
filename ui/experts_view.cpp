// SPDX-License-Identifier: MIT
#include "experts_view.h"

#include "expert_palette.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QPainter>
#include <QPainterPath>
#include <QScrollArea>
#include <QToolTip>
#include <QVBoxLayout>

#include <array>

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

// The tier is told by shape as well as colour, so that it reads without colour vision and in cells a
// few pixels wide: a frame for the device pool, a bar along the bottom for the host cache, a faint
// outline for disk. Fill strength falls tier by tier, so that what is nearest to compute stands out.
void paintTier(QPainter& painter, const QRectF& cell, ExpertTier tier, const SemanticColors& colors) {
    painter.setBrush(Qt::NoBrush);
    switch (tier) {
    case ExpertTier::Pool:
        painter.setPen(QPen(colors.resident, cell.width() >= 12 ? 2.0 : 1.0));
        painter.drawRect(cell.adjusted(0.5, 0.5, -0.5, -0.5));
        break;
    case ExpertTier::Host: {
        const double bar = std::max(2.0, std::round(cell.height() * 0.25));
        painter.fillRect(QRectF(cell.left(), cell.bottom() - bar, cell.width(), bar), colors.host);
        break;
    }
    case ExpertTier::Disk:
        painter.setPen(QPen(colors.grid, 1.0));
        painter.drawRect(cell.adjusted(0.5, 0.5, -0.5, -0.5));
        break;
    }
}

// The legend's sample cells are lightly used ones, on which the corner marks show in either theme.
constexpr double kSwatchUsage = 0.15;

double tierFillAlpha(ExpertTier tier) {
    switch (tier) {
    case ExpertTier::Pool:
        return 1.0;
    case ExpertTier::Host:
        return 0.6;
    case ExpertTier::Disk:
        break;
    }
    return 0.3;
}

} // namespace

void paintExpertCell(QPainter& painter, const QRectF& cell, const ExpertCellLook& look,
                     const SemanticColors& colors) {
    QColor fill = look.fill;
    fill.setAlphaF(static_cast<float>(tierFillAlpha(look.tier)));
    painter.fillRect(cell, fill);
    paintTier(painter, cell, look.tier, colors);
    painter.setPen(Qt::NoPen);
    if (look.copiedIn) painter.fillPath(cornerMark(cell, true), colors.copiedIn);
    if (look.evicted) painter.fillPath(cornerMark(cell, false), colors.evicted);
}

ExpertStrips::ExpertStrips(const ExpertActivity& activity, QWidget* parent)
    : QWidget(parent), m_activity(activity) {
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Minimum);
}

void ExpertStrips::relayout() {
    // The label has three lines ("L0 · block 1", "16 in pool", "8 host only"): a strip of small cells
    // is made tall enough for them instead of clipping them.
    ExpertStripMetrics metrics;
    metrics.minStripHeight = 3.0 * fontMetrics().lineSpacing() + 2.0;
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

QString ExpertStrips::layerLabel(int layer) const {
    const int64_t block = m_activity.layers()[static_cast<size_t>(layer)].block;
    if (m_activity.batches() == 0) return tr("L%1 · block %2").arg(layer).arg(block);
    return tr("L%1 · block %2\n%3 in pool\n%4 host only")
        .arg(layer)
        .arg(block)
        .arg(m_activity.tierCount(layer, ExpertTier::Pool))
        .arg(m_activity.tierCount(layer, ExpertTier::Host));
}

void ExpertStrips::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    const SemanticColors colors = semanticColors(palette());
    painter.fillRect(rect(), palette().color(QPalette::Base));
    const auto& layers = m_activity.layers();
    QFont small = font();
    small.setPointSizeF(std::max(6.0, font().pointSizeF() * 0.7));
    for (int l = 0; l < static_cast<int>(layers.size()); ++l) {
        const ExpertActivity::Layer& layer = layers[static_cast<size_t>(l)];
        painter.setPen(colors.text);
        painter.drawText(m_layout.labelRect(l), Qt::AlignLeft | Qt::AlignVCenter, layerLabel(l));
        for (int e = 0; e < m_activity.experts(); ++e) {
            const QRectF cell = m_layout.cellRect(l, e);
            const auto i = static_cast<size_t>(e);
            paintExpertCell(painter, cell,
                            {usageColor(m_activity.usageShare(l, e), palette()), m_activity.tier(l, e),
                             layer.copiedIn[i], layer.evicted[i]},
                            colors);
            if (cell.width() >= 22) {
                painter.setPen(colors.text);
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

ExpertLegend::ExpertLegend(QWidget* parent) : QWidget(parent) {
    const QColor used = usageColor(kSwatchUsage, palette());
    const std::array<ExpertCellLook, 5> looks{{{used, ExpertTier::Pool, false, false},
                                               {used, ExpertTier::Host, false, false},
                                               {used, ExpertTier::Disk, false, false},
                                               {used, ExpertTier::Pool, true, false},
                                               {used, ExpertTier::Host, false, true}}};
    // The tiers on one line, the last batch's marks on the next, then what the fill means.
    auto* lines = new QVBoxLayout(this);
    lines->setContentsMargins(0, 0, 0, 0);
    std::array<QHBoxLayout*, 2> rows{new QHBoxLayout, new QHBoxLayout};
    rows[0]->addWidget(new QLabel(tr("After the last batch:"), this));
    rows[1]->addWidget(new QLabel(tr("The last batch:"), this));
    for (size_t i = 0; i < looks.size(); ++i) {
        Entry entry{new QLabel(this), new QLabel(this), looks[i]};
        QHBoxLayout* row = rows[i < 3 ? 0 : 1];
        row->addSpacing(8);
        row->addWidget(entry.swatch);
        row->addWidget(entry.text);
        m_entries.push_back(entry);
    }
    for (QHBoxLayout* row : rows) {
        row->addStretch(1);
        lines->addLayout(row);
    }
    auto* fill = new QLabel(tr("Fill: how often the expert was used (stronger is more). Hover an expert "
                               "for its tier and numbers."),
                            this);
    fill->setForegroundRole(QPalette::PlaceholderText);
    fill->setWordWrap(true);
    lines->addWidget(fill);
    m_entries[3].text->setText(tr("copied in"));
    m_entries[4].text->setText(tr("evicted"));
    setTierNames({}, {});
    paintSwatches();
}

void ExpertLegend::setTierNames(const QString& pool, const QString& host) {
    m_entries[0].text->setText(pool.isEmpty() ? tr("device pool") : tr("device pool: %1").arg(pool));
    m_entries[1].text->setText(host.isEmpty() ? tr("host cache only") : tr("host cache only: %1").arg(host));
    m_entries[2].text->setText(tr("on disk only"));
}

QStringList ExpertLegend::entries() const {
    QStringList texts;
    for (const Entry& entry : m_entries) texts << entry.text->text();
    return texts;
}

void ExpertLegend::paintSwatches() {
    const SemanticColors colors = semanticColors(palette());
    const int side = std::max(12, fontMetrics().height());
    const qreal ratio = devicePixelRatioF();
    for (Entry& entry : m_entries) {
        QPixmap pixmap(QSize(side, side) * ratio);
        pixmap.setDevicePixelRatio(ratio);
        pixmap.fill(palette().color(QPalette::Base));
        QPainter painter(&pixmap);
        entry.look.fill = usageColor(kSwatchUsage, palette());
        paintExpertCell(painter, QRectF(0, 0, side, side), entry.look, colors);
        painter.end();
        entry.swatch->setPixmap(pixmap);
    }
}

void ExpertLegend::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) paintSwatches();
    QWidget::changeEvent(event);
}

ExpertsView::ExpertsView(QWidget* parent) : QWidget(parent) {
    m_summary = new QLabel(tr("No batch yet."), this);
    m_summary->setWordWrap(true);
    m_legend = new ExpertLegend(this);
    m_strips = new ExpertStrips(m_activity, this);
    m_scroll = new QScrollArea(this);
    m_scroll->setWidget(m_strips);
    m_scroll->setWidgetResizable(true);
    m_scroll->setFrameShape(QFrame::NoFrame);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(m_scroll, 1);
    layout->addWidget(m_legend);
}

QString ExpertsView::summary() const { return m_summary->text(); }

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
    m_legend->setTierNames(m_activity.poolName(), m_activity.hostName());
    m_strips->refresh();
}

void ExpertsView::updateSummary() {
    std::array<int, 3> inTier{};
    int copied = 0;
    int evicted = 0;
    for (int l = 0; l < static_cast<int>(m_activity.layers().size()); ++l) {
        const auto& layer = m_activity.layers()[static_cast<size_t>(l)];
        for (const ExpertTier tier : {ExpertTier::Pool, ExpertTier::Host, ExpertTier::Disk})
            inTier[static_cast<size_t>(tier)] += m_activity.tierCount(l, tier);
        copied += static_cast<int>(std::count(layer.copiedIn.begin(), layer.copiedIn.end(), true));
        evicted += static_cast<int>(std::count(layer.evicted.begin(), layer.evicted.end(), true));
    }
    const int total = m_activity.experts() * static_cast<int>(m_activity.layers().size());
    // The tiers by the names the engine gives them, so that a CPU run never reads as GPU memory.
    m_summary->setText(tr("%1: %2 of %3 experts · %4 only: %5 · disk only: %6 · after %7 batches; the last "
                          "one copied in %8 and evicted %9.")
                           .arg(m_activity.poolName())
                           .arg(inTier[0])
                           .arg(total)
                           .arg(m_activity.hostName())
                           .arg(inTier[1])
                           .arg(inTier[2])
                           .arg(m_activity.batches())
                           .arg(copied)
                           .arg(evicted));
}

} // namespace sida::ui
