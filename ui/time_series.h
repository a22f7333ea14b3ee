// SPDX-License-Identifier: MIT
// The Memory and Throughput views' data: one point per batch, derived from its trace, in a window
// capped at a number of points so that a long session never grows the plots without bound.
#pragma once

#include "engine_types.h"

#include <QString>

#include <deque>

namespace sida::ui {

/// When a batch finished, in seconds since its pipeline started (batches end in order).
double batchEndSeconds(const BatchTrace& trace);

struct MemoryPoint {
    double seconds = 0.0;
    double nonExpertBytes = 0.0;      ///< weights other than experts
    double residentExpertBytes = 0.0; ///< experts in the pool
    double otherBytes = 0.0;          ///< the rest of the allocator's use (activations, caches); 0 on CPU
    double budgetBytes = 0.0;         ///< the expert pool's capacity
    double allExpertBytes = 0.0;      ///< what keeping every expert resident would take
    /// The stacked totals the plot draws.
    double expertsTop() const { return nonExpertBytes + residentExpertBytes; }
    double otherTop() const { return expertsTop() + otherBytes; }
    double budgetLine() const { return nonExpertBytes + budgetBytes; }
    double allResidentLine() const { return nonExpertBytes + allExpertBytes; }
};

class MemorySeries {
public:
    explicit MemorySeries(size_t capacity = 3000) : m_capacity(capacity) {}
    const MemoryPoint& add(const BatchTrace& trace);
    void clear();

    const std::deque<MemoryPoint>& points() const { return m_points; }
    /// "GPU memory (cuda:0)" or "RAM pool (CPU)", from the engine: what the figures measure.
    QString tier() const { return m_tier; }
    bool isCuda() const { return m_isCuda; }
    /// The largest value any drawn line reaches, for the axis range.
    double maxBytes() const;
    /// Points added since the start, including those that fell out of the window.
    uint64_t added() const { return m_added; }

private:
    size_t m_capacity;
    std::deque<MemoryPoint> m_points;
    QString m_tier;
    bool m_isCuda = false;
    uint64_t m_added = 0;
};

struct ThroughputPoint {
    double seconds = 0.0;
    double samplesPerSecond = 0.0;
    double tokensPerSecond = 0.0;
    double batchLatencyMs = 0.0;
    double hashQueueDepth = 0.0;
    double bytesCopiedPerSecond = 0.0;
};

/// Rates are measured over the batches that ended in the last `window` seconds (at least the batch
/// itself), so that one quick batch does not spike the plot.
class ThroughputSeries {
public:
    explicit ThroughputSeries(size_t capacity = 3000, double window = 1.0)
        : m_capacity(capacity), m_window(window) {}
    const ThroughputPoint& add(const BatchTrace& trace);
    void clear();

    const std::deque<ThroughputPoint>& points() const { return m_points; }
    uint64_t added() const { return m_added; }

private:
    struct Recent {
        double start = 0.0;
        double end = 0.0;
        double samples = 0.0;
        double tokens = 0.0;
        double bytes = 0.0;
    };
    size_t m_capacity;
    double m_window;
    std::deque<Recent> m_recent;
    std::deque<ThroughputPoint> m_points;
    uint64_t m_added = 0;
};

} // namespace sida::ui
