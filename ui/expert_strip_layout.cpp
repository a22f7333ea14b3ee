// SPDX-License-Identifier: MIT
#include "expert_strip_layout.h"

#include <algorithm>
#include <cmath>

namespace sida::ui {

ExpertStripLayout::ExpertStripLayout(double width, int layers, int experts, const ExpertStripMetrics& metrics)
    : m_metrics(metrics), m_layers(std::max(layers, 0)), m_experts(std::max(experts, 0)) {
    if (m_experts == 0) return;
    const double available = std::max(width - 2 * m_metrics.margin - m_metrics.labelWidth, m_metrics.minCell);
    const double pitch = m_metrics.minCell + m_metrics.cellGap;
    const int fit = std::max(1, static_cast<int>(std::floor((available + m_metrics.cellGap) / pitch)));
    if (fit >= m_experts) {
        m_cellsPerRow = m_experts;
    } else {
        // Rows of a multiple of 8 let the reader count: expert 8r+c sits in row r, column c.
        m_cellsPerRow = fit >= 8 ? fit / 8 * 8 : fit;
    }
    m_rowsPerStrip = (m_experts + m_cellsPerRow - 1) / m_cellsPerRow;
    const double size = (available + m_metrics.cellGap) / m_cellsPerRow - m_metrics.cellGap;
    m_cellSize = std::clamp(std::floor(size), m_metrics.minCell, m_metrics.maxCell);
}

double ExpertStripLayout::stripHeight() const {
    return std::max(m_rowsPerStrip * m_cellSize + (m_rowsPerStrip - 1) * m_metrics.rowGap,
                    m_metrics.minStripHeight);
}

double ExpertStripLayout::stripTop(int layer) const {
    return m_metrics.margin + layer * (stripHeight() + m_metrics.stripGap);
}

double ExpertStripLayout::contentHeight() const {
    if (m_layers == 0 || m_experts == 0) return 0.0;
    return 2 * m_metrics.margin + m_layers * stripHeight() + (m_layers - 1) * m_metrics.stripGap;
}

QRectF ExpertStripLayout::cellRect(int layer, int expert) const {
    if (layer < 0 || layer >= m_layers || expert < 0 || expert >= m_experts) return {};
    const int row = expert / m_cellsPerRow;
    const int column = expert % m_cellsPerRow;
    const double x = m_metrics.margin + m_metrics.labelWidth + column * (m_cellSize + m_metrics.cellGap);
    const double y = stripTop(layer) + row * (m_cellSize + m_metrics.rowGap);
    return {x, y, m_cellSize, m_cellSize};
}

QRectF ExpertStripLayout::stripRect(int layer) const {
    if (layer < 0 || layer >= m_layers) return {};
    const double width = m_metrics.labelWidth + m_cellsPerRow * (m_cellSize + m_metrics.cellGap);
    return {m_metrics.margin, stripTop(layer), width, stripHeight()};
}

QRectF ExpertStripLayout::labelRect(int layer) const {
    const QRectF strip = stripRect(layer);
    return {strip.left(), strip.top(), m_metrics.labelWidth - 6.0, strip.height()};
}

std::optional<ExpertCellRef> ExpertStripLayout::cellAt(QPointF point) const {
    for (int layer = 0; layer < m_layers; ++layer) {
        const QRectF strip = stripRect(layer);
        if (point.y() < strip.top() || point.y() > strip.bottom()) continue;
        const double x = point.x() - (m_metrics.margin + m_metrics.labelWidth);
        const double y = point.y() - strip.top();
        if (x < 0) return std::nullopt;
        const int column = static_cast<int>(x / (m_cellSize + m_metrics.cellGap));
        const int row = static_cast<int>(y / (m_cellSize + m_metrics.rowGap));
        const int expert = row * m_cellsPerRow + column;
        if (column >= m_cellsPerRow || expert >= m_experts) return std::nullopt;
        if (!cellRect(layer, expert).contains(point)) return std::nullopt; // in a gap
        return ExpertCellRef{layer, expert};
    }
    return std::nullopt;
}

} // namespace sida::ui
