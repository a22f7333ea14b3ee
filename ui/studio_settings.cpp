// SPDX-License-Identifier: MIT
#include "studio_settings.h"

#include "sida/errors.h"

#include <QDir>

#include <algorithm>

namespace sida::ui {

namespace {

// A stored value another version wrote (or a hand edit) must not stop the app from starting: an
// unknown policy or eviction keeps the default.
template <typename T, typename Parse>
T parseOr(const QString& text, T fallback, Parse parse) {
    try {
        return parse(text.toStdString());
    } catch (const Error&) {
        return fallback;
    }
}

Budget budgetFromText(const std::string& text) { return parseBudget(text, "the saved budget"); }

} // namespace

QString themeName(Theme theme) {
    switch (theme) {
    case Theme::System:
        return QStringLiteral("system");
    case Theme::Light:
        return QStringLiteral("light");
    case Theme::Dark:
        return QStringLiteral("dark");
    }
    return QStringLiteral("system");
}

Theme parseTheme(const QString& name) {
    if (name == u"light") return Theme::Light;
    if (name == u"dark") return Theme::Dark;
    return Theme::System;
}

StudioSettings::StudioSettings() {
    // A first launch serves SiDA, the method the app shows; a model without a predictor is served
    // On demand instead (EngineController::runnableOptions).
    pipeline.policy = Policy::Sida;
}

StudioSettings StudioSettings::load(QSettings& s) {
    StudioSettings loaded;
    PipelineOptions& p = loaded.pipeline;
    s.beginGroup(QStringLiteral("pipeline"));
    p.policy = parseOr(s.value(QStringLiteral("policy")).toString(), p.policy, parsePolicy);
    p.topK = s.value(QStringLiteral("topK"), p.topK).toInt();
    p.deviceBudget =
        parseOr(s.value(QStringLiteral("deviceBudget")).toString(), p.deviceBudget, budgetFromText);
    p.hostBudget = parseOr(s.value(QStringLiteral("hostBudget")).toString(), p.hostBudget, budgetFromText);
    p.batchSize = s.value(QStringLiteral("batchSize"), p.batchSize).toInt();
    p.hashQueueDepth = s.value(QStringLiteral("hashQueueDepth"), p.hashQueueDepth).toInt();
    p.shadowRouter = s.value(QStringLiteral("shadowRouter"), p.shadowRouter).toBool();
    p.eviction = parseOr(s.value(QStringLiteral("eviction")).toString(), p.eviction, parseEviction);
    p.cacheAcrossBatches = s.value(QStringLiteral("cacheAcrossBatches"), p.cacheAcrossBatches).toBool();
    s.endGroup();
    loaded.threads = s.value(QStringLiteral("engine/threads"), loaded.threads).toInt();
    loaded.device = s.value(QStringLiteral("engine/device"), loaded.device).toString();
    loaded.dtype = s.value(QStringLiteral("engine/dtype"), loaded.dtype).toString();
    if (loaded.dtype != u"float32" && loaded.dtype != u"bfloat16") loaded.dtype = QStringLiteral("float32");
    loaded.theme = parseTheme(s.value(QStringLiteral("appearance/theme")).toString());
    loaded.recentModels = s.value(QStringLiteral("models/recent")).toStringList();
    while (loaded.recentModels.size() > kMaxRecentModels) loaded.recentModels.removeLast();
    return loaded;
}

void StudioSettings::save(QSettings& s) const {
    s.beginGroup(QStringLiteral("pipeline"));
    s.setValue(QStringLiteral("policy"), QString::fromStdString(policyName(pipeline.policy)));
    s.setValue(QStringLiteral("topK"), pipeline.topK);
    s.setValue(QStringLiteral("deviceBudget"), QString::fromStdString(budgetText(pipeline.deviceBudget)));
    s.setValue(QStringLiteral("hostBudget"), QString::fromStdString(budgetText(pipeline.hostBudget)));
    s.setValue(QStringLiteral("batchSize"), pipeline.batchSize);
    s.setValue(QStringLiteral("hashQueueDepth"), pipeline.hashQueueDepth);
    s.setValue(QStringLiteral("shadowRouter"), pipeline.shadowRouter);
    s.setValue(QStringLiteral("eviction"), QString::fromStdString(evictionName(pipeline.eviction)));
    s.setValue(QStringLiteral("cacheAcrossBatches"), pipeline.cacheAcrossBatches);
    s.endGroup();
    s.setValue(QStringLiteral("engine/threads"), threads);
    s.setValue(QStringLiteral("engine/device"), device);
    s.setValue(QStringLiteral("engine/dtype"), dtype);
    s.setValue(QStringLiteral("appearance/theme"), themeName(theme));
    s.setValue(QStringLiteral("models/recent"), recentModels);
}

void StudioSettings::addRecentModel(const QString& dir) {
    const QString clean = QDir::cleanPath(dir);
    recentModels.removeAll(clean);
    recentModels.prepend(clean);
    while (recentModels.size() > kMaxRecentModels) recentModels.removeLast();
}

} // namespace sida::ui
