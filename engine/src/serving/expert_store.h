// SPDX-License-Identifier: MIT
// Where experts live: a host tier holding every expert, and a fixed pool of device slots sized by
// the expert budget. With CUDA the host tier is pinned memory and copies run on their own stream
// with events; without CUDA the pool is RAM and the host tier is the memory-mapped checkpoint
// (real copies of real bytes, converted to the compute dtype), so the same manager runs anywhere.
#pragma once

#include "model/switch_weights.h"
#include "sida/pipeline.h"
#include "sida/safetensors.h"

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>

#include <atomic>
#include <map>

#include <cstdint>
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
    double copyMs = 0.0;
    void reset(size_t layers);
};

/// How much an expert is needed by the batch in flight; lower classes are evicted first, and Now
/// (the current layer has yet to run it) only when nothing else is resident.
enum class Need { None = 0, Done = 1, Later = 2, Now = 3 };

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
    bool isResident(ExpertKey key) const { return where_.contains(key); }
    std::vector<int32_t> residentExperts(int layer) const;
    uint64_t bytesCopiedTotal() const { return bytesCopiedTotal_; }

    /// Fills the pool with every expert (the standard policy's state, and the default).
    void fillAll(ResidencyLog* log = nullptr);

    /// Makes `key` resident if it is not, evicting the least needed expert per `need` (ties by
    /// FIFO or LRU). Returns false when it was already resident.
    bool fetch(ExpertKey key, const std::function<Need(ExpertKey)>& need, Eviction eviction,
               ResidencyLog& log);

    /// Evicts every resident expert for which `need` is Need::None.
    void evictUnneeded(const std::function<Need(ExpertKey)>& need, ResidencyLog& log);

    /// The weights of a resident expert, ready for the compute stream; marks it used (LRU).
    ExpertWeights weights(ExpertKey key);

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
        std::optional<c10::Event> ready; ///< CUDA: the copy into it has finished
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

    int64_t chooseVictim(const std::function<Need(ExpertKey)>& need, Eviction eviction) const;
    void evictSlot(int64_t slot, ResidencyLog& log);
    void copyIn(int64_t slot, ExpertKey key, ResidencyLog& log);
    /// CPU: once an expert is in the pool its checkpoint pages are unmapped, so that the process's
    /// resident set counts it once (in the pool). The page cache, the CPU's host tier, keeps the
    /// bytes while the kernel has room: fetching the expert again reads memory, not the disk.
    void releaseHostPages(ExpertKey key) const;
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
};

} // namespace sida::detail
