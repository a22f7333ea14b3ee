// SPDX-License-Identifier: MIT
#include "event_loop_probe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sida::ui {

EventLoopProbe::EventLoopProbe(int intervalMs, QObject* parent) : QObject(parent), m_intervalMs(intervalMs) {
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, &EventLoopProbe::tick);
}

void EventLoopProbe::start() {
    m_latenessMs.clear();
    m_clock.start();
    m_lastNs = 0;
    m_timer.start();
}

void EventLoopProbe::stop() { m_timer.stop(); }

void EventLoopProbe::tick() {
    const qint64 now = m_clock.nsecsElapsed();
    const double sinceLastMs = static_cast<double>(now - m_lastNs) / 1e6;
    m_lastNs = now;
    m_latenessMs.push_back(std::max(0.0, sinceLastMs - m_intervalMs));
}

EventLoopProbe::Summary EventLoopProbe::summarize(std::vector<double> latenessMs) {
    Summary s;
    if (latenessMs.empty()) return s;
    std::sort(latenessMs.begin(), latenessMs.end());
    auto percentile = [&](double p) {
        const auto index = static_cast<size_t>(std::ceil(p * static_cast<double>(latenessMs.size()))) - 1;
        return latenessMs[std::min(index, latenessMs.size() - 1)];
    };
    s.samples = static_cast<int>(latenessMs.size());
    s.meanMs =
        std::accumulate(latenessMs.begin(), latenessMs.end(), 0.0) / static_cast<double>(latenessMs.size());
    s.p50Ms = percentile(0.50);
    s.p95Ms = percentile(0.95);
    s.p99Ms = percentile(0.99);
    s.maxMs = latenessMs.back();
    return s;
}

} // namespace sida::ui
