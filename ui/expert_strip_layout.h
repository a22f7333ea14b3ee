// SPDX-License-Identifier: MIT
// Where the Experts view paints each expert: one strip per MoE layer, wrapped onto several rows when
// a layer has more experts than fit at a readable size (8 to 256 experts per layer).
#pragma once

#include <QPointF>
#include <QRectF>
#include <QSizeF>

#include <optional>

namespace sida::ui {

struct ExpertStripMetrics {
    double labelWidth = 92.0; ///< the layer name left of each strip
    double minCell = 7.0;     ///< narrower cells are wrapped onto another row
    double maxCell = 48.0;    ///< wider cells would waste the window on a few experts
    double cellGap = 1.0;
    double rowGap = 2.0;
    double stripGap = 12.0;      ///< between layers
    double minStripHeight = 0.0; ///< at least this tall, e.g. to fit the layer's label
    double margin = 8.0;
};

struct ExpertCellRef {
    int layer = -1;
    int expert = -1;
};

class ExpertStripLayout {
public:
    ExpertStripLayout() = default;
    /// Lays out `layers` strips of `experts` cells in a view `width` pixels wide.
    ExpertStripLayout(double width, int layers, int experts, const ExpertStripMetrics& metrics = {});

    int layers() const { return m_layers; }
    int experts() const { return m_experts; }
    /// Cells on one row of a strip: all experts when they fit, else a multiple of 8.
    int cellsPerRow() const { return m_cellsPerRow; }
    int rowsPerStrip() const { return m_rowsPerStrip; }
    double cellSize() const { return m_cellSize; }
    /// The height all strips need; the view scrolls when it has less.
    double contentHeight() const;

    QRectF cellRect(int layer, int expert) const;
    /// The whole strip of a layer, label included.
    QRectF stripRect(int layer) const;
    /// Where the layer's name goes.
    QRectF labelRect(int layer) const;
    /// The expert under a point, if any.
    std::optional<ExpertCellRef> cellAt(QPointF point) const;

private:
    double stripHeight() const;
    double stripTop(int layer) const;

    ExpertStripMetrics m_metrics;
    int m_layers = 0;
    int m_experts = 0;
    int m_cellsPerRow = 1;
    int m_rowsPerStrip = 1;
    double m_cellSize = 0.0;
};

} // namespace sida::ui
