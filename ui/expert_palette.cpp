// SPDX-License-Identifier: MIT
#include "expert_palette.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace sida::ui {

namespace {

// Okabe and Ito's colour-blind-safe qualitative set, extended with four more distinct hues; beyond
// that, hues advance by the golden angle so that consecutive ids never look alike.
constexpr std::array<QRgb, 12> kQualitative{0xE69F00, 0x56B4E9, 0x009E73, 0xF0E442, 0x0072B2, 0xD55E00,
                                            0xCC79A7, 0x999999, 0x7F3C8D, 0x11A579, 0xE73F74, 0x80BA5A};
constexpr double kGoldenAngleDegrees = 137.50776;

} // namespace

QColor expertColor(int expert) {
    if (expert < 0) return QColor(Qt::transparent);
    if (expert < static_cast<int>(kQualitative.size())) return QColor(kQualitative[expert]);
    const double hue = std::fmod(expert * kGoldenAngleDegrees, 360.0);
    // Alternate saturation and value in a short cycle so that similar hues still differ.
    const double saturation = (expert % 3 == 0) ? 0.55 : (expert % 3 == 1 ? 0.75 : 0.9);
    const double value = (expert % 2 == 0) ? 0.95 : 0.75;
    return QColor::fromHsvF(static_cast<float>(hue / 360.0), static_cast<float>(saturation),
                            static_cast<float>(value));
}

std::vector<QColor> expertPalette(int numExperts) {
    std::vector<QColor> colors;
    colors.reserve(static_cast<size_t>(std::max(numExperts, 0)));
    for (int i = 0; i < numExperts; ++i) colors.push_back(expertColor(i));
    return colors;
}

bool isDark(const QPalette& palette) {
    return palette.color(QPalette::Window).lightness() < palette.color(QPalette::WindowText).lightness();
}

QColor usageColor(double share, const QPalette& palette) {
    share = std::clamp(share, 0.0, 1.0);
    // A blue ramp in both themes; on dark backgrounds it rises towards light, on light ones towards dark.
    const QColor faint = isDark(palette) ? QColor(0x26, 0x33, 0x45) : QColor(0xE8, 0xF0, 0xF8);
    const QColor strong = isDark(palette) ? QColor(0x7F, 0xC8, 0xFF) : QColor(0x08, 0x45, 0x94);
    const double t = std::sqrt(share); // rare use should still be visible next to heavy use
    return QColor::fromRgbF(static_cast<float>(faint.redF() + (strong.redF() - faint.redF()) * t),
                            static_cast<float>(faint.greenF() + (strong.greenF() - faint.greenF()) * t),
                            static_cast<float>(faint.blueF() + (strong.blueF() - faint.blueF()) * t));
}

SemanticColors semanticColors(const QPalette& palette) {
    const bool dark = isDark(palette);
    SemanticColors c;
    c.resident = dark ? QColor(0x4C, 0xD1, 0x7A) : QColor(0x1B, 0x8A, 0x3E);
    // Orange against the blue usage ramp and the green pool frame: apart for every common colour
    // vision deficiency (the Okabe-Ito set), and the tiers differ in shape as well.
    c.host = dark ? QColor(0xF5, 0xB0, 0x3C) : QColor(0xE6, 0x9F, 0x00);
    c.copiedIn = dark ? QColor(0x66, 0xE0, 0xFF) : QColor(0x00, 0x72, 0xB2);
    c.evicted = dark ? QColor(0xFF, 0x7A, 0x6B) : QColor(0xC0, 0x39, 0x2B);
    c.miss = dark ? QColor(0xFF, 0xFF, 0xFF) : QColor(0x10, 0x10, 0x10);
    c.reference = dark ? QColor(0xF5, 0xC2, 0x42) : QColor(0xB2, 0x6B, 0x00);
    c.text = palette.color(QPalette::WindowText);
    c.background = palette.color(QPalette::Base);
    c.grid = dark ? QColor(0x44, 0x48, 0x50) : QColor(0xDD, 0xDF, 0xE3);
    return c;
}

QColor seriesColor(int index, const QPalette& palette) {
    static constexpr std::array<QRgb, 6> light{0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0x7F3C8D, 0xB26B00};
    static constexpr std::array<QRgb, 6> dark{0x56B4E9, 0xFF8C42, 0x4CD17A, 0xF08CC4, 0xB68AE0, 0xF5C242};
    const auto& set = isDark(palette) ? dark : light;
    return QColor(set[static_cast<size_t>(index) % set.size()]);
}

} // namespace sida::ui
