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

/// One batch's figures for the three tiers: the device pool, the host cache and the disk.
struct MemoryPoint {
    double seconds = 0.0;
    // The device pool (GPU memory, or the RAM pool on a CPU).
    double nonExpertBytes = 0.0;      ///< weights other than experts
    double residentExpertBytes = 0.0; ///< experts in the pool
    double otherBytes = 0.0;          ///< the rest of the allocator's use (activations, caches); 0 on CPU
    double budgetBytes = 0.0;         ///< the expert pool's capacity
    double allExpertBytes = 0.0;      ///< what keeping every expert resident would take
    // The host cache of experts' stored bytes.
    double hostResidentBytes = 0.0;
    double hostBudgetBytes = 0.0;
    double allExpertStoredBytes = 0.0; ///< every expert in the host cache
    // The disk, during this batch's turn.
    double diskBytesRead = 0.0;
    double diskReadExposedMs = 0.0;    ///< the inference thread waited for the disk
    double diskReadHiddenMs = 0.0;     ///< reads that overlapped compute
    double processResidentBytes = 0.0; ///< the whole process's resident set (VmRSS)
    /// The stacked totals the plot draws.
    double expertsTop() const { return nonExpertBytes + residentExpertBytes; }
    double otherTop() const { return expertsTop() + otherBytes; }
    double budgetLine() const { return nonExpertBytes + budgetBytes; }
    double allResidentLine() const { return nonExpertBytes + allExpertBytes; }
    double diskReadMs() const { return diskReadExposedMs + diskReadHiddenMs; }
};

/// Disk reads summed over every batch since the series started, including those that fell out of the
/// window.
struct DiskTotals {
    double bytesRead = 0.0;
    double exposedMs = 0.0;
    double hiddenMs = 0.0;
};

class MemorySeries {
public:
    explicit MemorySeries(size_t capacity = 3000) : m_capacity(capacity) {}
    const MemoryPoint& add(const BatchTrace& trace);
    void clear();

    const std::deque<MemoryPoint>& points() const { return m_points; }
    /// "GPU memory (cuda:0)" or "RAM pool (CPU)", from the engine: what the figures measure.
    QString tier() const { return m_tier; }
    /// "host RAM cache" or "pinned host RAM".
    QString hostTier() const { return m_hostTier; }
    /// How experts are read from disk ("pread, O_DIRECT").
    QString io() const { return m_io; }
    bool isCuda() const { return m_isCuda; }
    const DiskTotals& diskTotals() const { return m_disk; }
    /// The largest value any drawn line reaches, for the axis ranges: the device pool's lines...
    double maxBytes() const;
    /// ... the host cache's, bytes read per batch and read time per batch.
    double maxHostBytes() const;
    double maxDiskBytesRead() const;
    double maxDiskReadMs() const;
    /// Points added since the start, including those that fell out of the window.
    uint64_t added() const { return m_added; }

private:
    size_t m_capacity;
    std::deque<MemoryPoint> m_points;
    QString m_tier;
    QString m_hostTier;
    QString m_io;
    bool m_isCuda = false;
    DiskTotals m_disk;
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
