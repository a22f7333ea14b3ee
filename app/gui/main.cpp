// SPDX-License-Identifier: MIT
// sida-studio: the desktop app. Without options it opens the bundled demo model; --screenshot renders
// a view to a PNG and exits (for the docs and headless checks).
#include "headless_runs.h"
#include "main_window.h"
#include "theme.h"

#include "sida/device.h"
#include "sida/errors.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QTemporaryDir>

#include <cstdio>

int main(int argc, char** argv) {
    QApplication::setAttribute(Qt::AA_DontCreateNativeWidgetSiblings);
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("sida-studio"));
    QApplication::setOrganizationName(QStringLiteral("SiDA Studio"));
    QApplication::setApplicationVersion(QString::fromStdString(sida::runtimeVersions().sida));
    QApplication::setDesktopFileName(QStringLiteral("sida-studio"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Run and understand Mixture-of-Experts models the SiDA way."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption model(QStringLiteral("model"),
                                   QStringLiteral("Open this model folder instead of the bundled one."),
                                   QStringLiteral("DIR"));
    const QCommandLineOption screenshot(
        QStringLiteral("screenshot"),
        QStringLiteral("Load the model, classify the samples, save the window as a PNG and exit."),
        QStringLiteral("FILE"));
    const QCommandLineOption view(
        QStringLiteral("view"),
        QStringLiteral("The view to show: %1.").arg(sida::ui::MainWindow::viewNames().join(u", ")),
        QStringLiteral("NAME"), QStringLiteral("hash-table"));
    const QCommandLineOption theme(QStringLiteral("theme"),
                                   QStringLiteral("system, light or dark (not saved)."),
                                   QStringLiteral("THEME"));
    const QCommandLineOption size(QStringLiteral("size"), QStringLiteral("Window size for --screenshot."),
                                  QStringLiteral("WxH"), QStringLiteral("1600x1000"));
    const QCommandLineOption measure(
        QStringLiteral("measure-responsiveness"),
        QStringLiteral("Classify N inputs while measuring the event loop's lateness; print it and exit."),
        QStringLiteral("N"));
    const QCommandLineOption policy(
        QStringLiteral("policy"),
        QStringLiteral("Serve with this policy: standard, ondemand, sida, sida-exact or oracle "
                       "(saved like a change in Settings)."),
        QStringLiteral("NAME"));
    const QCommandLineOption paper(
        QStringLiteral("paper"),
        QStringLiteral("Serve sida with the paper's settings: plain FIFO eviction, no caching across "
                       "batches, no shadow router (saved like a change in Settings)."));
    const QCommandLineOption budget(
        QStringLiteral("budget"),
        QStringLiteral("The device pool's budget: auto, a share (50%, 0.5) or a size (2GiB) (saved like a "
                       "change in Settings)."),
        QStringLiteral("X"));
    const QCommandLineOption hostBudget(
        QStringLiteral("host-budget"),
        QStringLiteral("The host cache's budget: auto, a share (50%) or a size (4GiB) (saved like a change "
                       "in Settings)."),
        QStringLiteral("X"));
    const QCommandLineOption dtype(
        QStringLiteral("dtype"),
        QStringLiteral("Compute dtype: float32 or bfloat16 (saved like a change in "
                       "Settings)."),
        QStringLiteral("T"));
    const QCommandLineOption threads(
        QStringLiteral("threads"),
        QStringLiteral("CPU threads for LibTorch, 0 = one per core (saved like a change in "
                       "Settings)."),
        QStringLiteral("N"));
    parser.addOptions(
        {model, screenshot, view, theme, size, measure, policy, paper, budget, hostBudget, dtype, threads});
    parser.addPositionalArgument(QStringLiteral("MODEL_DIR"), QStringLiteral("The same as --model."),
                                 QStringLiteral("[MODEL_DIR]"));
    parser.process(app);

    if (parser.positionalArguments().size() > 1 ||
        (parser.isSet(model) && !parser.positionalArguments().isEmpty())) {
        std::fprintf(stderr, "sida-studio: name one model folder (MODEL_DIR or --model)\n");
        return 2;
    }
    const QString modelDir =
        parser.isSet(model) ? parser.value(model) : parser.positionalArguments().value(0);

    if (!sida::ui::MainWindow::viewNames().contains(parser.value(view))) {
        std::fprintf(stderr, "sida-studio: unknown view '%s' (use %s)\n", qPrintable(parser.value(view)),
                     qPrintable(sida::ui::MainWindow::viewNames().join(u", ")));
        return 2;
    }
    sida::ui::captureSystemTheme();
    // Headless runs start from the default settings and leave the user's untouched.
    const bool headless = parser.isSet(screenshot) || parser.isSet(measure);
    QTemporaryDir scratch;
    sida::ui::MainWindow window(
        headless ? new QSettings(scratch.filePath(QStringLiteral("studio.ini")), QSettings::IniFormat)
                 : nullptr);
    if (parser.isSet(policy) || parser.isSet(paper) || parser.isSet(budget) || parser.isSet(hostBudget) ||
        parser.isSet(dtype) || parser.isSet(threads)) {
        sida::ui::StudioSettings settings = window.settings();
        try {
            if (parser.isSet(policy))
                settings.pipeline.policy = sida::parsePolicy(parser.value(policy).toStdString());
            if (parser.isSet(paper)) {
                if (parser.isSet(policy) && settings.pipeline.policy != sida::Policy::Sida)
                    throw sida::Error("--paper is a preset of the sida policy; --policy " +
                                      parser.value(policy).toStdString() + " keeps its own semantics");
                settings.pipeline = sida::paperPreset(settings.pipeline);
            }
            if (parser.isSet(budget))
                settings.pipeline.deviceBudget =
                    sida::parseBudget(parser.value(budget).toStdString(), "--budget");
            if (parser.isSet(hostBudget))
                settings.pipeline.hostBudget =
                    sida::parseBudget(parser.value(hostBudget).toStdString(), "--host-budget");
        } catch (const std::exception& error) {
            std::fprintf(stderr, "sida-studio: %s\n", error.what());
            return 2;
        }
        if (parser.isSet(dtype)) {
            settings.dtype = parser.value(dtype);
            if (settings.dtype != u"float32" && settings.dtype != u"bfloat16") {
                std::fprintf(stderr, "sida-studio: --dtype must be float32 or bfloat16\n");
                return 2;
            }
        }
        if (parser.isSet(threads)) {
            bool isNumber = false;
            settings.threads = parser.value(threads).toInt(&isNumber);
            if (!isNumber || settings.threads < 0) {
                std::fprintf(stderr, "sida-studio: --threads must be a whole number of 0 or more\n");
                return 2;
            }
        }
        window.applySettings(settings);
    }
    const sida::ui::Theme chosen =
        parser.isSet(theme) ? sida::ui::parseTheme(parser.value(theme)) : window.settings().theme;
    if (chosen != sida::ui::Theme::System) sida::ui::applyTheme(chosen);
    window.showView(parser.value(view));

    if (parser.isSet(screenshot)) {
        const QStringList wh = parser.value(size).split(u'x');
        window.resize(wh.value(0).toInt() > 0 ? wh.value(0).toInt() : 1600,
                      wh.value(1).toInt() > 0 ? wh.value(1).toInt() : 1000);
        window.show();
        auto* run =
            new sida::studio::ScreenshotRun(&window, parser.value(screenshot), parser.value(view), &window);
        run->start(modelDir);
        return QApplication::exec();
    }
    window.show();
    if (parser.isSet(measure)) {
        auto* run =
            new sida::studio::ResponsivenessRun(&window, std::max(1, parser.value(measure).toInt()), &window);
        run->start(modelDir);
        return QApplication::exec();
    }
    if (!modelDir.isEmpty())
        window.openModel(modelDir);
    else
        window.openInitialModel();
    return QApplication::exec();
}
