// SPDX-License-Identifier: MIT
// Shared QCustomPlot setup: the performance settings every live plot uses and colours that follow the
// application palette (re-applied when the theme changes).
#pragma once

#include <QPalette>
#include <QString>

class QCustomPlot;
class QCPAxis;
class QCPAxisRect;
class QCPLegend;
class QCPColorGradient;
class QCPRange;
class QWidget;

namespace sida::ui {

/// A plot for live data: no OpenGL, no antialiasing on dense plots, fast polylines, queued replots.
QCustomPlot* createLivePlot(QWidget* parent);
/// Colours the plot's background, axes, grids and legend from the palette.
void applyPlotPalette(QCustomPlot* plot, const QPalette& palette);
void applyAxisPalette(QCPAxis* axis, const QPalette& palette);
/// For legends other than the plot's own (views with one legend per axis rect).
void applyLegendPalette(QCPLegend* legend, const QPalette& palette);
/// A gradient with one flat band per expert id, for colour maps whose data range is expertDataRange.
QCPColorGradient expertGradient(int experts);
QCPRange expertDataRange(int experts);
/// A sequential gradient for counts, matching usageColor.
QCPColorGradient countGradient(const QPalette& palette);
/// Adds a new axis rect with a title above, for views made of stacked plots.
QCPAxisRect* addStackedRect(QCustomPlot* plot, int row, const QString& title);

} // namespace sida::ui
