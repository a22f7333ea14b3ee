// SPDX-License-Identifier: MIT
// Light and dark themes, or whatever the desktop uses. Views restyle themselves on the palette change
// this causes (QEvent::PaletteChange), so switching never needs a restart.
#pragma once

#include "studio_settings.h"

namespace sida::ui {

/// Remembers the desktop's own style and palette; call once after the QApplication exists.
void captureSystemTheme();
void applyTheme(Theme theme);

} // namespace sida::ui
