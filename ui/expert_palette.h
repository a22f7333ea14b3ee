// SPDX-License-Identifier: MIT
// Colours shared by every view, so that expert 5 is the same colour in the hash table, the expert
// strips and the confusion matrix, and so that both dark and light themes stay legible.
#pragma once

#include <QColor>
#include <QPalette>

#include <vector>

namespace sida::ui {

/// A categorical colour for an expert id: neighbouring ids get clearly different colours.
QColor expertColor(int expert);
/// expertColor for 0..numExperts-1.
std::vector<QColor> expertPalette(int numExperts);

/// Whether a palette paints light text on a dark background.
bool isDark(const QPalette& palette);

/// A sequential ramp for shares in [0, 1]: faint for rare, saturated for frequent use.
QColor usageColor(double share, const QPalette& palette);

/// Semantic colours, tuned for the palette's darkness.
struct SemanticColors {
    QColor resident; ///< an expert on the device (or in the CPU pool)
    QColor host;     ///< an expert in the host cache only
    QColor copiedIn;
    QColor evicted;
    QColor miss;
    QColor reference; ///< reference lines on plots
    QColor text;
    QColor grid;
    QColor background;
};
SemanticColors semanticColors(const QPalette& palette);

/// Distinct line colours for series drawn together (policies in Compare, layers in Sparsity).
QColor seriesColor(int index, const QPalette& palette);

} // namespace sida::ui
