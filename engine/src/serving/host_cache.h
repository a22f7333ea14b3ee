// SPDX-License-Identifier: MIT
// The host tier: experts' stored bytes in RAM (pinned with CUDA), read from the checkpoint files
// with explicit reads on a few I/O threads, under its own budget. Reads are issued ahead of use
// for the queued batches' experts; eviction drops first what no queued batch needs, then what is
// needed farthest ahead (least recently used among equals).
#pragma once

#include "io/file_reader.h"
#include "serving/lookahead.h"

#include <ATen/ATen.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sida::detail {

/// Where one expert's two matrices are in the checkpoint, and how they are stored.
struct ExpertSource {
    FileRange wi, wo;
    at::ScalarType stored = at::kFloat;
    std::string wiName, woName; ///< tensor names, for errors
};

/// One expert's stored bytes: its matrices, shaped, in the stored dtype (views into one buffer).
struct HostExpert {
    at::Tensor wi, wo;
};

class HostCache {
public:
    /// `sources` in ExpertKey order (layer-major). `pinned`: page-locked buffers (CUDA).
    HostCache(std::vector<ExpertSource> sources, int64_t expertsPerLayer, std::vector<int64_t> wiShape,
              std::vector<int64_t> woShape, std::shared_ptr<ByteSource> source, bool pinned, int ioThreads);
    /// Waits for the reads in flight, then joins the I/O threads.
    ~HostCache();
    HostCache(const HostCache&) = delete;
    HostCache& operator=(const HostCache&) = delete;

    /// Replaces where bytes come from (tests inject faults through this); drops every entry.
    void setSource(std::shared_ptr<ByteSource> source);
    std::shared_ptr<ByteSource> source() const;

    /// Drops every entry (reads in flight finish first).
    void clear();

    /// Bytes one entry holds: the expert's aligned read spans. What the budget counts.
    int64_t entryBytes() const { return entryBytes_; }
    /// The most experts it holds (at least 1); evicts down to it.
    void setCapacity(int64_t entries);
    int64_t capacity() const;

    /// The expert's bytes, reading them first (at the head of the I/O queue) when they are not
    /// here. Blocks; `waitedMs` (if given) receives the time spent waiting for the disk.
    /// sida::Error when the read fails; a later call reads again.
    std::shared_ptr<const HostExpert> get(ExpertKey key, const LookaheadView& future,
                                          double* waitedMs = nullptr);

    /// Issues reads for `keys` (in order of use) while there is room that no sooner need holds:
    /// every one while the cache has free entries, then only the next few missing ones.
    /// `imminent`: they are needed now (a routed layer's experts): read before later batches'.
    void readAhead(const std::vector<ExpertKey>& keys, const LookaheadView& future, bool imminent = false);

    struct Counters {
        uint64_t bytesRead = 0;     ///< bytes of the read spans
        uint64_t reads = 0;         ///< experts read
        double readBusySeconds = 0; ///< wall time with at least one read in flight
        int64_t entries = 0;        ///< held now, reads in flight included
    };
    Counters counters() const;
    /// Experts of a layer held now (read and ready).
    std::vector<int32_t> cachedExperts(int layer) const;

private:
    struct Entry {
        enum class State { Reading, Ready, Failed } state = State::Reading;
        std::shared_ptr<const HostExpert> bytes;
        std::string error;
        uint64_t lastUsed = 0;
    };
    using Lock = std::unique_lock<std::mutex>;

    void ioLoop();
    /// Reads one expert (on an I/O thread, without the lock).
    std::shared_ptr<const HostExpert> readExpert(ExpertKey key,
                                                 const std::shared_ptr<ByteSource>& source) const;
    /// Frees an entry for a read of an expert next used at `use`: true when there was room or a
    /// ready entry needed later than that (any, when `demand`) was evicted.
    bool makeRoom(uint64_t use, const LookaheadView& future, bool demand);
    void evictDownToCapacity();
    void startBusy();
    void endBusy();
    size_t index(ExpertKey key) const { return static_cast<size_t>(key.layer * experts_ + key.expert); }

    std::vector<ExpertSource> sources_;
    int64_t experts_;
    std::vector<int64_t> wiShape_, woShape_;
    int64_t entryBytes_ = 0;
    bool pinned_;

    mutable std::mutex mutex_;
    std::condition_variable changed_; ///< an entry finished reading, or the queue changed
    std::shared_ptr<ByteSource> source_;
    std::map<ExpertKey, Entry> entries_;
    std::deque<ExpertKey> queue_; ///< reads not started yet, demand reads first
    int64_t capacity_ = 1;
    uint64_t clock_ = 0;
    Counters counters_;
    int inFlight_ = 0;
    std::chrono::steady_clock::time_point busySince_;
    bool stopping_ = false;
    std::vector<std::thread> threads_; ///< last: they start once everything above exists
};

} // namespace sida::detail
