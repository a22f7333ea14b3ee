// SPDX-License-Identifier: MIT
#include "plot_style.h"

#include "expert_palette.h"

#include <qcustomplot.h>

namespace sida::ui {

QCustomPlot* createLivePlot(QWidget* parent) {
    auto* plot = new QCustomPlot(parent);
    // OpenGL stays off (QCustomPlot's default); dense live plots draw without antialiasing.
    plot->setNotAntialiasedElements(QCP::aeAll);
    plot->setPlottingHint(QCP::phFastPolylines, true);
    plot->setPlottingHint(QCP::phImmediateRefresh, false);
    plot->setNoAntialiasingOnDrag(true);
    // An explicit minimum: a legend's width would otherwise become the window's minimum width.
    plot->setMinimumSize(200, 160);
    return plot;
}

void applyAxisPalette(QCPAxis* axis, const QPalette& palette) {
    const SemanticColors c = semanticColors(palette);
    const QPen line(c.text, 1);
    axis->setBasePen(line);
    axis->setTickPen(line);
    axis->setSubTickPen(line);
    axis->setTickLabelColor(c.text);
    axis->setLabelColor(c.text);
    axis->grid()->setPen(QPen(c.grid, 1, Qt::DotLine));
    axis->grid()->setSubGridVisible(false);
    axis->grid()->setZeroLinePen(Qt::NoPen);
}

void applyLegendPalette(QCPLegend* legend, const QPalette& palette) {
    const SemanticColors c = semanticColors(palette);
    legend->setBrush(palette.color(QPalette::Base));
    legend->setBorderPen(QPen(c.grid));
    legend->setTextColor(c.text);
}

void applyPlotPalette(QCustomPlot* plot, const QPalette& palette) {
    const SemanticColors c = semanticColors(palette);
    plot->setBackground(palette.color(QPalette::Base));
    for (QCPAxisRect* rect : plot->axisRects()) {
        rect->setBackground(palette.color(QPalette::Base));
        for (QCPAxis* axis : rect->axes()) applyAxisPalette(axis, palette);
    }
    if (plot->legend) applyLegendPalette(plot->legend, palette);
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i)))
            title->setTextColor(c.text);
}

QCPColorGradient expertGradient(int experts) {
    QCPColorGradient gradient;
    gradient.clearColorStops();
    const int n = std::max(experts, 1);
    // Flat bands of equal width, one per expert, over the data range [-0.5, n - 0.5]: a cell's value
    // (its expert id) falls in the middle of its band, and the colour scale shows equal bands with the
    // ids at their centres. The stops sit just inside each band, so no colour is blended.
    constexpr double kInset = 1e-6;
    for (int e = 0; e < n; ++e) {
        gradient.setColorStopAt(static_cast<double>(e) / n + kInset, expertColor(e));
        gradient.setColorStopAt(static_cast<double>(e + 1) / n - kInset, expertColor(e));
    }
    gradient.setLevelCount(std::max(4096, 16 * n));
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    return gradient;
}

QCPRange expertDataRange(int experts) { return QCPRange(-0.5, std::max(experts, 1) - 0.5); }

QCPColorGradient countGradient(const QPalette& palette) {
    QCPColorGradient gradient;
    gradient.clearColorStops();
    for (int i = 0; i <= 8; ++i) gradient.setColorStopAt(i / 8.0, usageColor(i / 8.0, palette));
    gradient.setLevelCount(256);
    return gradient;
}

QCPAxisRect* addStackedRect(QCustomPlot* plot, int row, const QString& title) {
    auto* label =
        new QCPTextElement(plot, title, QFont(plot->font().family(), plot->font().pointSize(), QFont::Bold));
    plot->plotLayout()->addElement(row * 2, 0, label);
    auto* rect = new QCPAxisRect(plot);
    plot->plotLayout()->addElement(row * 2 + 1, 0, rect);
    return rect;
}

} // namespace sida::ui
