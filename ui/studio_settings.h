// SPDX-License-Identifier: MIT
// What SiDA Studio remembers between sessions (QSettings): the serving settings, the device, the
// theme and the recently opened models. A value type, so the round trip is tested without a window.
#pragma once

#include "sida/pipeline.h"

#include <QSettings>
#include <QString>
#include <QStringList>

namespace sida::ui {

enum class Theme { System, Light, Dark };
QString themeName(Theme theme);
Theme parseTheme(const QString& name); ///< unknown names follow the system

struct StudioSettings {
    static constexpr int kMaxRecentModels = 8;

    PipelineOptions pipeline;
    int threads = 0; ///< CPU threads for LibTorch; 0 = one per core (applies at load)
    QString device = QStringLiteral("auto");
    QString dtype = QStringLiteral("float32"); ///< compute dtype (applies at load)
    Theme theme = Theme::System;
    QStringList recentModels; ///< most recent first

    StudioSettings();
    static StudioSettings load(QSettings& settings);
    void save(QSettings& settings) const;
    /// Puts a model folder first in the recent list (once), dropping the oldest beyond the maximum.
    void addRecentModel(const QString& dir);
};

} // namespace sida::ui
