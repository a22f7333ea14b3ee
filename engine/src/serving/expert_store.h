// SPDX-License-Identifier: MIT
// Where experts live: a host tier holding every expert, and a fixed pool of device slots sized by
// the expert budget. With CUDA the host tier is pinned memory and copies run on their own stream
// with events; without CUDA the pool is RAM, the host tier is the memory-mapped checkpoint (real
// copies of real bytes, converted to the compute dtype) and copies made ahead of use run on a copy
// thread, so the same manager runs anywhere and overlaps copies with compute on both.
#pragma once

#include "model/switch_weights.h"
#include "serving/copy_engine.h"
#include "sida/pipeline.h"
#include "sida/safetensors.h"

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>

#include <atomic>
#include <map>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

namespace sida::detail {

struct ExpertKey {
    int layer = 0; ///< MoE layer (0-based), not the block index
    int64_t expert = 0;
    auto operator<=>(const ExpertKey&) const = default;
};

/// What happened to the pool during one batch, for its trace.
struct ResidencyLog {
    std::vector<std::vector<int32_t>> copiedIn, evicted; ///< per MoE layer
    std::vector<int64_t> fetchedOnDemand;                ///< per MoE layer
    uint64_t bytesCopied = 0;
    double copyMs = 0.0;       ///< the inference thread's time on copies: making them, or waiting for them
    double copyHiddenMs = 0.0; ///< CPU: copy-thread time that ran beside compute, not waited for
    void reset(size_t layers);
};

/// How the batch in flight needs an expert. Eviction takes experts it will not use again first
/// (never needed, then already used; oldest first by FIFO or LRU), and only when there are none,
/// of those it still needs, the one it needs last: the encoder runs the MoE layers in order and a
/// layer's experts in id order, so the order of use is the order of ExpertKey.
enum class Need { None = 0, Done = 1, Needed = 2 };
using NeedOf = std::function<Need(ExpertKey)>;

class ExpertStore {
public:
    ExpertStore(const SwitchConfig& config, const std::vector<int64_t>& moeBlocks,
                const Checkpoint& checkpoint, at::ScalarType dtype, at::Device device,
                const ProgressCallback& progress, const CancelToken& cancel);
    ~ExpertStore();

    int layers() const { return layers_; }
    int64_t expertsPerLayer() const { return experts_; }
    int64_t totalExperts() const { return static_cast<int64_t>(layers_) * experts_; }
    int64_t expertBytes() const { return expertBytes_; }
    const at::Device& device() const { return device_; }

    /// One user of the pool at a time (the inference thread, or Model::classify).
    std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }

    /// Sets the pool's size in experts (at least 1, at most all), evicting down to it.
    void setCapacity(int64_t slots, Eviction eviction);
    int64_t capacity() const { return capacity_; }
    int64_t residentCount() const { return static_cast<int64_t>(where_.size()); }
    std::vector<int32_t> residentExperts(int layer) const;
    uint64_t bytesCopiedTotal() const { return bytesCopiedTotal_; }

    /// Fills the pool with every expert (the standard policy's state). The pool starts empty, sized
    /// for every expert.
    void fillAll(ResidencyLog* log = nullptr);

    /// Makes `key` resident if it is not, for use now, evicting the least needed expert per `need`
    /// (CPU: the copy runs on this thread). Returns false when it was already resident.
    bool fetch(ExpertKey key, const NeedOf& need, Eviction eviction, ResidencyLog& log);

    enum class Ahead { NoRoom, Resident, Started };
    /// Starts copying `key` in ahead of its use (CPU: on the copy thread; CUDA: on the copy stream)
    /// if there is room for it: a free slot, an expert the batch will not use again, or, when
    /// `evictLaterNeeds`, one the batch needs only after `key`.
    Ahead fetchAhead(ExpertKey key, const NeedOf& need, Eviction eviction, bool evictLaterNeeds,
                     ResidencyLog& log);

    /// Evicts every resident expert for which `need` is Need::None.
    void evictUnneeded(const NeedOf& need, ResidencyLog& log);

    /// The weights of a resident expert, ready for the compute stream (CPU: once its copy is
    /// done, the wait counted in `log`); marks it used (LRU).
    ExpertWeights weights(ExpertKey key, ResidencyLog& log);

    /// The expert from the host tier, converted to the compute dtype on `device` (a temporary,
    /// outside the pool: for the oracle's hash thread).
    ExpertWeights hostWeights(ExpertKey key, const at::Device& device) const;

    /// CPU: asks the kernel to read the listed experts that are not in the pool from the checkpoint
    /// ahead of use, for those whose pages it has reclaimed (the hash thread calls this as soon as
    /// it knows a batch's experts). Safe to call without the lock. A no-op with CUDA, whose host
    /// tier is pinned memory.
    void prefetchFromDisk(const std::vector<std::set<int64_t>>& neededPerLayer) const;

private:
    struct Slot {
        at::Tensor buffer;            ///< [2 * d * d_ff]: wi then wo
        std::optional<ExpertKey> key; ///< empty when free
        uint64_t loadedAt = 0, lastUsed = 0;
        std::optional<c10::Event> ready;     ///< CUDA: the copy into it has finished
        std::shared_ptr<CopyTicket> copying; ///< CPU: its copy, until someone has waited for it
    };
    /// Where a host-tier matrix's bytes are in the checkpoint, when the host tier is the mapping.
    struct FileRange {
        const MappedFile* file = nullptr;
        uint64_t offset = 0, length = 0;
    };
    struct HostExpert {
        at::Tensor wi, wo;
        FileRange wiFile, woFile;
    };

    /// A free slot, growing the pool up to its capacity; -1 when it is full.
    int64_t freeSlot();
    int64_t chooseVictim(const NeedOf& need, Eviction eviction) const;
    void evictSlot(int64_t slot, ResidencyLog& log);
    /// Copies `key` into `slot`: CPU, on this thread, or on the copy thread when `ahead`.
    void copyIn(int64_t slot, ExpertKey key, bool ahead, ResidencyLog& log);
    /// CPU: waits for the slot's copy made ahead, if any, counting the wait in `log`.
    void finishCopy(Slot& slot, ResidencyLog& log);
    /// CPU: the host tier's bytes of `key`, converted into `buffer`. The checkpoint's pages stay
    /// mapped: they are the page cache (the CPU's host tier, which the kernel may reclaim under
    /// memory pressure), and unmapping them after each copy made every later copy of the expert
    /// fault its pages in again, which cost more than the copy itself.
    void copyFromHost(const at::Tensor& buffer, ExpertKey key) const;
    size_t flatIndex(ExpertKey key) const { return static_cast<size_t>(key.layer * experts_ + key.expert); }

    const HostExpert& host(ExpertKey key) const { return host_[flatIndex(key)]; }

    int layers_ = 0;
    int64_t experts_ = 0, dModel_ = 0, dFf_ = 0, expertBytes_ = 0;
    at::ScalarType dtype_;
    at::Device device_;
    std::vector<HostExpert> host_;
    std::vector<Slot> slots_;
    std::map<ExpertKey, int64_t> where_;
    std::unique_ptr<std::atomic<bool>[]> residentFlags_; ///< where_, readable without the lock
    int64_t capacity_ = 0;
    uint64_t clock_ = 0;
    uint64_t bytesCopiedTotal_ = 0;
    std::optional<c10::Stream> copyStream_;
    std::mutex mutex_;
    /// CPU: copies ahead of use. Last, so that it finishes before what its copies read goes away.
    std::unique_ptr<CopyEngine> copyEngine_;
};

} // namespace sida::detail
