// SPDX-License-Identifier: MIT
// What sida-studio does without a person at the keyboard: render a view to a PNG for the docs and
// headless checks (--screenshot), and measure how responsive the GUI stays while the engine runs flat
// out (--measure-responsiveness). Both drive the real main window.
#pragma once

#include <QObject>
#include <QSize>
#include <QString>
#include <QTimer>

namespace sida::ui {
class EventLoopProbe;
class MainWindow;
} // namespace sida::ui

namespace sida::studio {

/// Loads the model, classifies the sample sentences, runs what the view needs (the lesson, a
/// comparison), shows the view and saves the window to `file`. Exits the app with 0, or 1 on failure.
class ScreenshotRun : public QObject {
    Q_OBJECT

public:
    ScreenshotRun(ui::MainWindow* window, QString file, QString view, QObject* parent = nullptr);
    void start(const QString& modelDir);

private:
    void classifySamples();
    void prepareView();
    void capture();
    void fail(const QString& message);

    ui::MainWindow* m_window;
    QString m_file;
    QString m_view;
    QTimer m_deadline;
    bool m_classified = false;
    bool m_prepared = false;
};

/// Loads the model, shows the Throughput view, submits `inputs` sentences as one job and measures the
/// event loop's lateness until every result is in; prints a summary and exits.
class ResponsivenessRun : public QObject {
    Q_OBJECT

public:
    ResponsivenessRun(ui::MainWindow* window, int inputs, QObject* parent = nullptr);
    void start(const QString& modelDir);

private:
    void submit();
    void report();

    ui::MainWindow* m_window;
    int m_inputs;
    ui::EventLoopProbe* m_probe;
    quint64 m_job = 0;
    qint64 m_startedMs = 0;
};

} // namespace sida::studio
