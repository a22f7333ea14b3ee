// SPDX-License-Identifier: MIT
#include "time_series.h"

#include <algorithm>

namespace sida::ui {

double batchEndSeconds(const BatchTrace& trace) {
    // startedSeconds is taken once the hash table arrived; totalMs also counts the wait before it.
    const double busyMs = std::max(0.0, trace.timing.totalMs - trace.timing.waitForHashMs);
    return trace.startedSeconds + busyMs / 1000.0;
}

namespace {

double bytes(uint64_t value) { return static_cast<double>(value); }

void setTierFigures(MemoryPoint& p, const BatchTrace& trace) {
    const MemoryTrace& m = trace.memory;
    p.hostResidentBytes = bytes(m.hostResidentBytes);
    p.hostBudgetBytes = bytes(m.hostBudgetBytes);
    p.allExpertStoredBytes = bytes(m.allExpertStoredBytes);
    p.processResidentBytes = bytes(m.processResidentBytes);
    p.diskBytesRead = bytes(trace.diskBytesRead);
    p.diskReadExposedMs = trace.timing.diskReadExposedMs;
    p.diskReadHiddenMs = trace.timing.diskReadHiddenMs;
}

template <typename Value>
double maxOver(const std::deque<MemoryPoint>& points, Value value) {
    double top = 0.0;
    for (const MemoryPoint& p : points) top = std::max(top, value(p));
    return top;
}

} // namespace

const MemoryPoint& MemorySeries::add(const BatchTrace& trace) {
    const MemoryTrace& m = trace.memory;
    MemoryPoint p;
    p.seconds = batchEndSeconds(trace);
    p.nonExpertBytes = static_cast<double>(m.nonExpertBytes);
    p.residentExpertBytes = static_cast<double>(m.residentExpertBytes);
    // The allocator's figure includes the weights; what is left is activations and caches. On the
    // CPU the engine reports no allocator figure, so there is nothing else to show.
    const double accounted = p.nonExpertBytes + p.residentExpertBytes;
    p.otherBytes = std::max(0.0, static_cast<double>(m.allocatedBytes) - accounted);
    p.budgetBytes = static_cast<double>(m.budgetBytes);
    p.allExpertBytes = static_cast<double>(m.allExpertBytes);
    setTierFigures(p, trace);
    m_tier = qs(m.tier);
    m_hostTier = qs(m.hostTier);
    m_io = qs(m.io);
    m_isCuda = m.isCuda;
    m_disk.bytesRead += p.diskBytesRead;
    m_disk.exposedMs += p.diskReadExposedMs;
    m_disk.hiddenMs += p.diskReadHiddenMs;
    m_points.push_back(p);
    ++m_added;
    while (m_points.size() > m_capacity) m_points.pop_front();
    return m_points.back();
}

void MemorySeries::clear() {
    m_points.clear();
    m_disk = {};
    m_added = 0;
}

double MemorySeries::maxBytes() const {
    return maxOver(m_points, [](const MemoryPoint& p) {
        return std::max({p.otherTop(), p.budgetLine(), p.allResidentLine()});
    });
}

double MemorySeries::maxHostBytes() const {
    return maxOver(m_points, [](const MemoryPoint& p) {
        return std::max({p.hostResidentBytes, p.hostBudgetBytes, p.allExpertStoredBytes});
    });
}

double MemorySeries::maxDiskBytesRead() const {
    return maxOver(m_points, [](const MemoryPoint& p) { return p.diskBytesRead; });
}

double MemorySeries::maxDiskReadMs() const {
    return maxOver(m_points, [](const MemoryPoint& p) { return p.diskReadMs(); });
}

const ThroughputPoint& ThroughputSeries::add(const BatchTrace& trace) {
    Recent batch;
    batch.start = trace.startedSeconds;
    batch.end = batchEndSeconds(trace);
    batch.samples = static_cast<double>(trace.sequences.size());
    batch.tokens = static_cast<double>(trace.tokens);
    batch.bytes = static_cast<double>(trace.bytesCopied);
    m_recent.push_back(batch);
    while (m_recent.size() > 1 && m_recent.front().end < batch.end - m_window) m_recent.pop_front();

    double samples = 0.0;
    double tokens = 0.0;
    double bytes = 0.0;
    double earliest = batch.start;
    for (const Recent& r : m_recent) {
        samples += r.samples;
        tokens += r.tokens;
        bytes += r.bytes;
        earliest = std::min(earliest, r.start);
    }
    const double span = std::max(batch.end - earliest, 1e-6);

    ThroughputPoint p;
    p.seconds = batch.end;
    p.samplesPerSecond = samples / span;
    p.tokensPerSecond = tokens / span;
    p.bytesCopiedPerSecond = bytes / span;
    p.batchLatencyMs = trace.timing.totalMs;
    p.hashQueueDepth = trace.hashQueueDepth;
    m_points.push_back(p);
    ++m_added;
    while (m_points.size() > m_capacity) m_points.pop_front();
    return m_points.back();
}

void ThroughputSeries::clear() {
    m_recent.clear();
    m_points.clear();
    m_added = 0;
}

} // namespace sida::ui
