// SPDX-License-Identifier: MIT
// Where experts live, in three tiers: a fixed pool of device slots sized by the device budget
// (GPU memory, or a RAM pool on the CPU), a host cache of their stored bytes under its own budget
// (pinned RAM with CUDA), and the checkpoint files on disk, read with explicit reads. Copies into
// the pool run beside compute: on a CUDA copy stream with events, or on the CPU's copy thread.
// Both caches evict by the queued batches' hash tables (the lookahead) when the policy has them.
#pragma once

#include "model/switch_weights.h"
#include "serving/copy_engine.h"
#include "serving/host_cache.h"
#include "serving/lookahead.h"
#include "sida/memory.h"
#include "sida/pipeline.h"
#include "sida/safetensors.h"

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

namespace sida::detail {

/// What happened to the pool during one batch, for its trace.
struct ResidencyLog {
    std::vector<std::vector<int32_t>> copiedIn, evicted; ///< per MoE layer
    std::vector<int64_t> fetchedOnDemand;                ///< per MoE layer
    uint64_t bytesCopied = 0;
    double copyMs = 0.0;       ///< the inference thread's time on copies: making them, or waiting for them
    double copyHiddenMs = 0.0; ///< CPU: copy-thread time that ran beside compute, not waited for
    double diskWaitMs = 0.0;   ///< of copyMs: waiting for expert bytes still on their way from disk
    void reset(size_t layers);
};

/// How the batch in flight and the queued batches need an expert. Eviction takes, in this order:
/// experts no batch in view needs (oldest first by FIFO or LRU; never needed by this batch before
/// already used), then those a queued batch needs (the farthest ahead first), and only when there
/// are none, of those this batch still needs, the one it needs last: the encoder runs the MoE
/// layers in order and a layer's experts in id order, so the order of use is ExpertKey's order.
enum class Need { None = 0, Done = 1, Later = 2, Needed = 3 };
struct Use {
    Need need = Need::None;
    uint64_t nextUse = kNever; ///< Need::Later: its position in the lookahead
};
using NeedOf = std::function<Use(ExpertKey)>;

class ExpertStore {
public:
    /// Validates every expert's name, shape and dtype in the checkpoint; reads none of them.
    ExpertStore(const SwitchConfig& config, const std::vector<int64_t>& moeBlocks,
                const Checkpoint& checkpoint, at::ScalarType dtype, at::Device device, IoMode io,
                const CancelToken& cancel);
    ~ExpertStore();

    int layers() const { return layers_; }
    int64_t expertsPerLayer() const { return experts_; }
    int64_t totalExperts() const { return static_cast<int64_t>(layers_) * experts_; }
    /// One expert in the pool (compute dtype).
    int64_t expertBytes() const { return expertBytes_; }
    /// One expert in the host cache (its stored bytes, read spans aligned).
    int64_t hostEntryBytes() const { return host_->entryBytes(); }
    const at::Device& device() const { return device_; }
    /// How expert bytes are read: "pread, O_DIRECT" or "pread, buffered".
    std::string ioDescription() const;

    /// One user of the pool at a time (the inference thread, or Model::classify).
    std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }

    /// Sets the pool's size in experts (at least 1, at most all), evicting down to it.
    void setCapacity(int64_t slots, Eviction eviction);
    int64_t capacity() const { return capacity_; }
    int64_t residentCount() const { return static_cast<int64_t>(where_.size()); }
    std::vector<int32_t> residentExperts(int layer) const;
    uint64_t bytesCopiedTotal() const { return bytesCopiedTotal_; }

    HostCache& hostCache() { return *host_; }
    const HostCache& hostCache() const { return *host_; }
    /// The queued batches' experts: the hash thread adds, the inference thread removes.
    Lookahead& lookahead() { return lookahead_; }
    /// Reads ahead into the host cache every expert the lookahead names that is not in the pool
    /// (in order of use, as far as the cache has room). Safe to call without the lock.
    void planReads();
    /// Starts reading `keys` (needed imminently: a routed layer's experts) into the host cache.
    void readSoon(const std::vector<ExpertKey>& keys);

    /// Empties the pool and the host cache (their sizes stay).
    void clearCaches();

    /// Fills the pool with every expert (the standard policy's state), sized for all of them.
    void fillAll(ResidencyLog* log = nullptr);

    /// Makes `key` resident if it is not, for use now, evicting the least needed expert per `need`
    /// (CPU: the copy runs on this thread). Returns false when it was already resident.
    bool fetch(ExpertKey key, const NeedOf& need, Eviction eviction, ResidencyLog& log);

    enum class Ahead { NoRoom, Resident, Started };
    /// Starts copying `key` in ahead of its use (CPU: on the copy thread; CUDA: on the copy stream)
    /// if there is room for it: a free slot, an expert needed later than it by a queued batch or
    /// by none, or, when `evictLaterNeeds`, one the batch needs only after `key`.
    Ahead fetchAhead(ExpertKey key, const NeedOf& need, Eviction eviction, bool evictLaterNeeds,
                     ResidencyLog& log);

    /// Evicts every resident expert this batch does not need (no caching across batches).
    void evictUnneeded(const NeedOf& need, ResidencyLog& log);

    /// The weights of a resident expert, ready for the compute stream (CPU: once its copy is
    /// done, the wait counted in `log`); marks it used (LRU).
    ExpertWeights weights(ExpertKey key, ResidencyLog& log);

    /// The expert from the host tier, converted to the compute dtype on `device` (a temporary,
    /// outside the pool: for the oracle's hash thread).
    ExpertWeights hostWeights(ExpertKey key, const at::Device& device) const;

private:
    /// When a copy made ahead waited for the disk (its bytes were not in the host cache yet).
    struct DiskWait {
        std::chrono::steady_clock::time_point from, to;
    };
    struct Slot {
        at::Tensor buffer;            ///< [2 * d * d_ff]: wi then wo
        std::optional<ExpertKey> key; ///< empty when free
        uint64_t loadedAt = 0, lastUsed = 0;
        std::optional<c10::Event> ready;          ///< CUDA: the copy into it has finished
        std::shared_ptr<const HostExpert> source; ///< CUDA: the host bytes, until the copy is done
        std::shared_ptr<CopyTicket> copying;      ///< CPU: its copy, until someone has waited for it
        std::shared_ptr<DiskWait> diskWait;       ///< CPU: that copy's wait for the disk
    };

    /// A free slot, growing the pool up to its capacity; -1 when it is full.
    int64_t freeSlot();
    int64_t chooseVictim(const NeedOf& need, Eviction eviction) const;
    void evictSlot(int64_t slot, ResidencyLog& log);
    /// Copies `key` into `slot`: CPU, on this thread, or on the copy thread when `ahead`.
    void copyIn(int64_t slot, ExpertKey key, bool ahead, ResidencyLog& log);
    /// CPU: waits for the slot's copy made ahead, if any, counting the wait in `log`.
    void finishCopy(Slot& slot, ResidencyLog& log);
    /// The host tier's bytes of `key` (read from disk first if needed), converted into `buffer`.
    void copyFromHost(const at::Tensor& buffer, ExpertKey key, DiskWait* waited);
    size_t flatIndex(ExpertKey key) const { return static_cast<size_t>(key.layer * experts_ + key.expert); }

    int layers_ = 0;
    int64_t experts_ = 0, dModel_ = 0, dFf_ = 0, expertBytes_ = 0;
    at::ScalarType dtype_;
    at::Device device_;
    Lookahead lookahead_;
    std::vector<Slot> slots_;
    std::map<ExpertKey, int64_t> where_;
    std::unique_ptr<std::atomic<bool>[]> residentFlags_; ///< where_, readable without the lock
    int64_t capacity_ = 0;
    uint64_t clock_ = 0;
    uint64_t bytesCopiedTotal_ = 0;
    std::optional<c10::Stream> copyStream_;
    /// CUDA: host bytes of evicted slots whose copies may still be in flight, with their events.
    std::vector<std::pair<c10::Event, std::shared_ptr<const HostExpert>>> retired_;
    std::mutex mutex_;
    std::unique_ptr<HostCache> host_;
    /// CPU: copies ahead of use. Last, so that it finishes before what its copies read goes away.
    std::unique_ptr<CopyEngine> copyEngine_;
};

} // namespace sida::detail
