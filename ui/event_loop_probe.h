// SPDX-License-Identifier: MIT
// Measures how responsive the GUI thread is: a precise timer records how late each of its ticks
// fires. While the engine runs flat out on other threads, the lateness is what a user would feel as
// lag on a click or a keypress.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <vector>

namespace sida::ui {

class EventLoopProbe : public QObject {
    Q_OBJECT

public:
    struct Summary {
        int samples = 0;
        double meanMs = 0.0;
        double p50Ms = 0.0;
        double p95Ms = 0.0;
        double p99Ms = 0.0;
        double maxMs = 0.0;
    };

    explicit EventLoopProbe(int intervalMs = 10, QObject* parent = nullptr);
    void start();
    void stop();
    Summary summary() const { return summarize(m_latenessMs); }
    /// Percentiles and maximum of lateness samples, in milliseconds.
    static Summary summarize(std::vector<double> latenessMs);

private:
    void tick();

    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_lastNs = 0;
    int m_intervalMs;
    std::vector<double> m_latenessMs;
};

} // namespace sida::ui
