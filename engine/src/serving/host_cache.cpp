// SPDX-License-Identifier: MIT
#include "serving/host_cache.h"

#include "device/device.h"

#include "sida/errors.h"

#include <algorithm>
#include <cstring>

#include <sys/mman.h>

namespace sida::detail {
namespace {

using Clock = std::chrono::steady_clock;

// One entry's memory, aligned for O_DIRECT. Without CUDA it comes straight from mmap, so that an
// evicted entry's memory goes back to the system at once: allocated through malloc, freed buffers
// of this size stayed in the allocator's per-thread arenas, and the resident set of
// switch-large-128 reached twice the budgets. With CUDA it is page-locked memory from LibTorch's
// host allocator, which keeps freed blocks for reuse by the next entry.
class EntryBuffer {
public:
    EntryBuffer(size_t bytes, bool pinned) : bytes_(bytes + kDirectAlignment) {
        if (pinned) {
            pinned_ = at::empty({static_cast<int64_t>(bytes_)},
                                at::TensorOptions().dtype(at::kByte).pinned_memory(true));
            mapped_ = static_cast<std::byte*>(pinned_.data_ptr());
        } else {
            void* mapped =
                ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (mapped == MAP_FAILED)
                throw Error("cannot allocate " + std::to_string(bytes_) + " bytes for an expert");
            mapped_ = static_cast<std::byte*>(mapped);
        }
    }
    ~EntryBuffer() {
        if (!pinned_.defined()) ::munmap(mapped_, bytes_);
    }
    EntryBuffer(const EntryBuffer&) = delete;
    EntryBuffer& operator=(const EntryBuffer&) = delete;
    std::byte* data() const {
        const auto address = reinterpret_cast<uintptr_t>(mapped_);
        return mapped_ + (kDirectAlignment - address % kDirectAlignment) % kDirectAlignment;
    }

private:
    size_t bytes_;
    std::byte* mapped_ = nullptr;
    at::Tensor pinned_;
};

// Once the cache is full, a read ahead evicts an expert needed later than the one it reads; done
// far ahead, that choice is worse than the one Belady's rule would make at the time of use (the
// experts used in between become better victims). So only the next few missing experts are read
// ahead with eviction, enough to keep the I/O threads busy. Measured on the demo model (host cache
// 50%, pool 25%, SST-2 dev): unbounded, 1.6x the optimum's reads; 2-4, 0.75-1.17x.
constexpr int kEvictingReadWindow = 4;

uint64_t spanBytes(const FileRange& range) {
    // The largest aligned span a range of this length can need, wherever it starts.
    return alignedSpan({range.file, 0, range.length}).bufferBytes + kDirectAlignment;
}

// Whether every element is finite: all exponent bits set means NaN or infinity.
template <class Bits>
bool finiteBits(const std::byte* data, uint64_t bytes, Bits exponent) {
    const uint64_t n = bytes / sizeof(Bits);
    bool finite = true;
    for (uint64_t i = 0; i < n; ++i) {
        Bits value;
        std::memcpy(&value, data + i * sizeof(Bits), sizeof(Bits));
        finite &= (value & exponent) != exponent;
    }
    return finite;
}

bool allFinite(const std::byte* data, uint64_t bytes, at::ScalarType type) {
    switch (type) {
    case at::kFloat:
        return finiteBits<uint32_t>(data, bytes, 0x7f800000u);
    case at::kBFloat16:
        return finiteBits<uint16_t>(data, bytes, uint16_t{0x7f80});
    case at::kHalf:
        return finiteBits<uint16_t>(data, bytes, uint16_t{0x7c00});
    default:
        return true;
    }
}

} // namespace

HostCache::HostCache(std::vector<ExpertSource> sources, int64_t expertsPerLayer, std::vector<int64_t> wiShape,
                     std::vector<int64_t> woShape, std::shared_ptr<ByteSource> source, bool pinned,
                     int ioThreads)
    : sources_(std::move(sources)), experts_(expertsPerLayer), wiShape_(std::move(wiShape)),
      woShape_(std::move(woShape)), pinned_(pinned), source_(std::move(source)) {
    // Experts may be stored in different dtypes: an entry has room for the largest.
    for (const ExpertSource& source : sources_)
        entryBytes_ =
            std::max(entryBytes_, static_cast<int64_t>(spanBytes(source.wi) + spanBytes(source.wo)));
    for (int i = 0; i < std::max(1, ioThreads); ++i) threads_.emplace_back([this] { ioLoop(); });
}

HostCache::~HostCache() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        queue_.clear();
    }
    changed_.notify_all();
    for (std::thread& t : threads_) t.join();
}

void HostCache::clear() {
    Lock lock(mutex_);
    queue_.clear();
    changed_.wait(lock, [&] { return inFlight_ == 0; });
    entries_.clear();
}

void HostCache::setSource(std::shared_ptr<ByteSource> source) {
    clear();
    std::lock_guard lock(mutex_);
    source_ = std::move(source);
}

std::shared_ptr<ByteSource> HostCache::source() const {
    std::lock_guard lock(mutex_);
    return source_;
}

void HostCache::setCapacity(int64_t entries) {
    std::lock_guard lock(mutex_);
    capacity_ = std::max<int64_t>(1, entries);
    evictDownToCapacity();
}

int64_t HostCache::capacity() const {
    std::lock_guard lock(mutex_);
    return capacity_;
}

void HostCache::evictDownToCapacity() {
    // Reads in flight cannot be dropped; they are evicted when they finish if still over.
    while (static_cast<int64_t>(entries_.size()) > capacity_) {
        auto victim = entries_.end();
        for (auto it = entries_.begin(); it != entries_.end(); ++it)
            if (it->second.state != Entry::State::Reading &&
                (victim == entries_.end() || it->second.lastUsed < victim->second.lastUsed))
                victim = it;
        if (victim == entries_.end()) return;
        entries_.erase(victim);
    }
}

bool HostCache::makeRoom(uint64_t use, const LookaheadView& future, bool demand) {
    if (static_cast<int64_t>(entries_.size()) < capacity_) return true;
    auto victim = entries_.end();
    uint64_t victimUse = 0;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        const Entry& e = it->second;
        if (e.state == Entry::State::Reading) continue;
        // A failed read holds nothing worth keeping. An expert the pool also holds is ranked by its
        // next use like any other: the pool may drop it before then, and evicting such copies first
        // read 1.14x more from disk (docs/BENCHMARKS.md, "The disk tier").
        const uint64_t next = e.state == Entry::State::Failed ? kNever : future.nextUse(it->first);
        if (victim == entries_.end() || next > victimUse ||
            (next == victimUse && e.lastUsed < victim->second.lastUsed)) {
            victim = it;
            victimUse = next;
        }
    }
    if (victim == entries_.end()) return false;
    if (!demand && victimUse <= use) return false; // everything here is needed sooner
    entries_.erase(victim);
    return true;
}

std::shared_ptr<const HostExpert> HostCache::get(ExpertKey key, const LookaheadView& future,
                                                 double* waitedMs) {
    const auto start = Clock::now();
    Lock lock(mutex_);
    while (true) {
        const auto it = entries_.find(key);
        if (it == entries_.end()) {
            if (makeRoom(0, future, /*demand=*/true)) {
                entries_[key].state = Entry::State::Reading;
                queue_.push_front(key);
                changed_.notify_all();
            }
        } else if (it->second.state == Entry::State::Ready) {
            it->second.lastUsed = ++clock_;
            if (waitedMs) *waitedMs = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
            return it->second.bytes;
        } else if (it->second.state == Entry::State::Failed) {
            const std::string error = it->second.error;
            entries_.erase(it);
            throw Error(error);
        } else if (const auto queued = std::find(queue_.begin(), queue_.end(), key); queued != queue_.end()) {
            // Needed now: ahead of the reads for later batches.
            queue_.erase(queued);
            queue_.push_front(key);
        }
        changed_.wait(lock);
    }
}

void HostCache::readAhead(const std::vector<ExpertKey>& keys, const LookaheadView& future, bool imminent) {
    std::lock_guard lock(mutex_);
    std::vector<ExpertKey> issued;
    int missing = 0;
    for (const ExpertKey& key : keys) {
        if (entries_.contains(key)) continue;
        const bool full = static_cast<int64_t>(entries_.size()) >= capacity_;
        if (full && ++missing > kEvictingReadWindow) break;
        if (!makeRoom(imminent ? 0 : future.nextUse(key), future, /*demand=*/false)) break;
        entries_[key].state = Entry::State::Reading;
        issued.push_back(key);
    }
    if (issued.empty()) return;
    queue_.insert(imminent ? queue_.begin() : queue_.end(), issued.begin(), issued.end());
    changed_.notify_all();
}

HostCache::Counters HostCache::counters() const {
    std::lock_guard lock(mutex_);
    Counters c = counters_;
    if (inFlight_ > 0) c.readBusySeconds += std::chrono::duration<double>(Clock::now() - busySince_).count();
    c.entries = static_cast<int64_t>(entries_.size());
    return c;
}

std::vector<int32_t> HostCache::cachedExperts(int layer) const {
    std::lock_guard lock(mutex_);
    std::vector<int32_t> experts;
    for (const auto& [key, entry] : entries_)
        if (key.layer == layer && entry.state == Entry::State::Ready)
            experts.push_back(static_cast<int32_t>(key.expert));
    return experts;
}

void HostCache::startBusy() {
    if (inFlight_++ == 0) busySince_ = Clock::now();
}

void HostCache::endBusy() {
    if (--inFlight_ == 0)
        counters_.readBusySeconds += std::chrono::duration<double>(Clock::now() - busySince_).count();
}

void HostCache::ioLoop() {
    setCallingThreadComputeThreads(1);
    Lock lock(mutex_);
    while (true) {
        changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        const ExpertKey key = queue_.front();
        queue_.pop_front();
        const std::shared_ptr<ByteSource> source = source_;
        startBusy();
        lock.unlock();
        std::shared_ptr<const HostExpert> bytes;
        std::string error;
        try {
            bytes = readExpert(key, source);
        } catch (const std::exception& e) {
            error = e.what();
        }
        lock.lock();
        endBusy();
        const auto it = entries_.find(key);
        if (it != entries_.end() && source == source_) {
            it->second.state = error.empty() ? Entry::State::Ready : Entry::State::Failed;
            it->second.bytes = std::move(bytes);
            it->second.error = std::move(error);
            it->second.lastUsed = ++clock_;
            if (it->second.state == Entry::State::Ready) {
                counters_.bytesRead += static_cast<uint64_t>(entryBytes_);
                ++counters_.reads;
            }
            evictDownToCapacity();
        }
        changed_.notify_all();
    }
}

std::shared_ptr<const HostExpert> HostCache::readExpert(ExpertKey key,
                                                        const std::shared_ptr<ByteSource>& source) const {
    const ExpertSource& where = sources_[index(key)];
    const auto buffer = std::make_shared<const EntryBuffer>(static_cast<size_t>(entryBytes_), pinned_);
    std::byte* base = buffer->data();
    auto readMatrix = [&](const FileRange& range, const std::string& name, std::byte* into,
                          const std::vector<int64_t>& shape) {
        source->read(range, into);
        std::byte* data = into + alignedSpan(range).dataOffset;
        if (!allFinite(data, range.length, where.stored))
            throw Error(source->describe(range.file) + ": tensor '" + name +
                        "' contains NaN or infinite values");
        // The view keeps the whole buffer alive.
        return at::from_blob(
            data, shape, [buffer](void*) {}, at::TensorOptions().dtype(where.stored));
    };
    auto expert = std::make_shared<HostExpert>();
    expert->wi = readMatrix(where.wi, where.wiName, base, wiShape_);
    expert->wo = readMatrix(where.wo, where.woName, base + spanBytes(where.wi), woShape_);
    return expert;
}

} // namespace sida::detail
