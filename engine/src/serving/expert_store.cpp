// SPDX-License-Identifier: MIT
#include "serving/expert_store.h"

#include "io/tensor_io.h"
#include "serving/fault_injection.h"

#include "sida/errors.h"

#include <ATen/Dispatch.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <chrono>
#include <cstring>
#include <limits>

namespace sida::detail {
namespace {

c10::Stream currentStream(const at::Device& device) {
    return c10::impl::VirtualGuardImpl(device.type()).getStream(device);
}

// CPU: `source`'s elements into the contiguous `target`, converted to its dtype. Plain loops
// rather than Tensor::copy_, so that the copy thread never starts an OpenMP team of its own beside
// the inference thread's.
void convertInto(const at::Tensor& target, const at::Tensor& source) {
    const int64_t n = source.numel();
    if (target.scalar_type() == source.scalar_type()) {
        std::memcpy(target.data_ptr(), source.const_data_ptr(), static_cast<size_t>(source.nbytes()));
        return;
    }
    if (source.scalar_type() == at::kBFloat16 && target.scalar_type() == at::kFloat) {
        // The common case (bf16 checkpoints, float32 compute): a bfloat16 is the top half of a
        // float32, and this form of the loop is one the compiler vectorises.
        const auto* in = static_cast<const uint16_t*>(source.const_data_ptr());
        auto* out = static_cast<uint32_t*>(target.data_ptr());
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint32_t>(in[i]) << 16;
        return;
    }
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, target.scalar_type(), "expert copy", [&] {
        using Target = scalar_t;
        Target* out = target.data_ptr<Target>();
        AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, source.scalar_type(), "expert copy", [&] {
            const scalar_t* in = source.const_data_ptr<scalar_t>();
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Target>(static_cast<float>(in[i]));
        });
    });
}

} // namespace

void ResidencyLog::reset(size_t layers) {
    copiedIn.assign(layers, {});
    evicted.assign(layers, {});
    fetchedOnDemand.assign(layers, 0);
    bytesCopied = 0;
    copyMs = 0.0;
    copyHiddenMs = 0.0;
    diskWaitMs = 0.0;
}

namespace {

// Expert reads are spread over a few threads so that the disk has several requests queued; more
// would only contend for the same disk.
constexpr int kIoThreads = 4;

std::shared_ptr<ByteSource> checkpointSource(const Checkpoint& checkpoint, IoMode io) {
    std::vector<std::filesystem::path> paths;
    std::vector<uint64_t> sizes;
    for (const auto& file : checkpoint.files()) {
        paths.push_back(file->path());
        sizes.push_back(file->mapping().bytes().size());
    }
    return std::make_shared<FileByteSource>(std::move(paths), std::move(sizes), /*preferDirect=*/true, io);
}

uint32_t fileIndex(const Checkpoint& checkpoint, const SafetensorsFile* file) {
    const auto& files = checkpoint.files();
    for (size_t i = 0; i < files.size(); ++i)
        if (files[i].get() == file) return static_cast<uint32_t>(i);
    throw Error("internal error: a tensor's file is not part of its checkpoint");
}

} // namespace

ExpertStore::ExpertStore(const SwitchConfig& config, const std::vector<int64_t>& moeBlocks,
                         const Checkpoint& checkpoint, at::ScalarType dtype, at::Device device, IoMode io,
                         const CancelToken& cancel)
    : layers_(static_cast<int>(moeBlocks.size())), experts_(config.num_experts), dModel_(config.d_model),
      dFf_(config.d_ff),
      expertBytes_(2 * config.d_model * config.d_ff * static_cast<int64_t>(at::elementSize(dtype))),
      dtype_(dtype), device_(device), lookahead_(config.num_experts, static_cast<int>(moeBlocks.size())) {
    const std::vector<int64_t> wiShape{dFf_, dModel_}, woShape{dModel_, dFf_};
    std::vector<ExpertSource> sources;
    sources.reserve(static_cast<size_t>(totalExperts()));
    for (int l = 0; l < layers_; ++l) {
        for (int64_t e = 0; e < experts_; ++e) {
            cancel.throwIfCancelled();
            ExpertSource source;
            for (const char* matrix : {"wi", "wo"}) {
                const bool isWi = std::string(matrix) == "wi";
                const std::string name = expertTensorName(moeBlocks[l], e, matrix);
                const TensorLocation location = checkpoint.locate(name);
                const auto& expected = isWi ? wiShape : woShape;
                const std::string file = location.file->path().string();
                if (location.info->shape != expected)
                    throw Error(file + ": tensor '" + name + "' has shape " +
                                shapeText(location.info->shape) + " but config.json implies " +
                                shapeText(expected));
                const at::ScalarType stored = scalarTypeOf(location.info->dtype, name, file);
                if (!isWi && stored != source.stored)
                    throw Error(
                        file + ": tensor '" + name + "' is stored as " + dtypeName(location.info->dtype) +
                        " but its expert's wi is not; SiDA needs both matrices of an expert in one dtype");
                source.stored = stored;
                (isWi ? source.wi : source.wo) = {fileIndex(checkpoint, location.file),
                                                  location.file->fileOffset(*location.info),
                                                  location.info->byteSize()};
                (isWi ? source.wiName : source.woName) = name;
            }
            sources.push_back(std::move(source));
        }
    }
    if (!sources.empty() && sources.front().wi.length + sources.front().wo.length == 0)
        throw Error("internal error: experts without bytes");
    host_ = std::make_unique<HostCache>(std::move(sources), experts_, wiShape, woShape,
                                        checkpointSource(checkpoint, io), device.is_cuda(), kIoThreads);
    if (device.is_cuda())
        copyStream_ = c10::impl::VirtualGuardImpl(device.type()).getStreamFromGlobalPool(device, false);
    else
        copyEngine_ = std::make_unique<CopyEngine>();
    residentFlags_ = std::make_unique<std::atomic<bool>[]>(static_cast<size_t>(totalExperts()));
    capacity_ = totalExperts();
}

ExpertStore::~ExpertStore() {
    if (device_.is_cuda()) c10::impl::VirtualGuardImpl(device_.type()).synchronizeDevice(device_.index());
}

std::string ExpertStore::ioDescription() const { return host_->source()->description(); }

std::vector<int32_t> ExpertStore::residentExperts(int layer) const {
    std::vector<int32_t> experts;
    for (const auto& [key, slot] : where_)
        if (key.layer == layer) experts.push_back(static_cast<int32_t>(key.expert));
    return experts;
}

void ExpertStore::setCapacity(int64_t slots, Eviction eviction) {
    slots = std::clamp<int64_t>(slots, 1, totalExperts());
    ResidencyLog ignored;
    ignored.reset(static_cast<size_t>(layers_));
    while (residentCount() > slots)
        evictSlot(chooseVictim([](ExpertKey) { return Use{}; }, eviction), ignored);
    if (device_.is_cuda()) c10::impl::VirtualGuardImpl(device_.type()).synchronizeDevice(device_.index());
    // Free slots beyond the new size give their memory back.
    std::vector<Slot> kept;
    for (Slot& s : slots_)
        if (s.key) kept.push_back(std::move(s));
    slots_ = std::move(kept);
    where_.clear();
    for (size_t i = 0; i < slots_.size(); ++i) where_[*slots_[i].key] = static_cast<int64_t>(i);
    capacity_ = slots;
}

void ExpertStore::clearCaches() {
    ResidencyLog ignored;
    ignored.reset(static_cast<size_t>(layers_));
    for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].key) evictSlot(static_cast<int64_t>(i), ignored);
    host_->clear();
}

void ExpertStore::planReads() {
    const LookaheadView future = lookahead_.view();
    if (future.empty()) return;
    std::vector<ExpertKey> keys;
    for (const ExpertKey& key : future.inOrder())
        if (!residentFlags_[flatIndex(key)]) keys.push_back(key);
    host_->readAhead(keys, future);
}

void ExpertStore::readSoon(const std::vector<ExpertKey>& keys) {
    std::vector<ExpertKey> missing;
    for (const ExpertKey& key : keys)
        if (!residentFlags_[flatIndex(key)]) missing.push_back(key);
    if (!missing.empty()) host_->readAhead(missing, lookahead_.view(), /*imminent=*/true);
}

void ExpertStore::fillAll(ResidencyLog* log) {
    ResidencyLog local;
    local.reset(static_cast<size_t>(layers_));
    setCapacity(totalExperts(), Eviction::Fifo);
    // Every expert is read once, in order, with the reads ahead of the copies.
    std::vector<ExpertKey> all;
    for (int l = 0; l < layers_; ++l)
        for (int64_t e = 0; e < experts_; ++e) all.push_back({l, e});
    readSoon(all);
    for (const ExpertKey& key : all)
        fetch(
            key, [](ExpertKey) { return Use{Need::Needed}; }, Eviction::Fifo, log ? *log : local);
}

int64_t ExpertStore::freeSlot() {
    for (size_t i = 0; i < slots_.size(); ++i)
        if (!slots_[i].key) return static_cast<int64_t>(i);
    if (static_cast<int64_t>(slots_.size()) >= capacity_) return -1;
    slots_.emplace_back();
    return static_cast<int64_t>(slots_.size()) - 1;
}

int64_t ExpertStore::chooseVictim(const NeedOf& need, Eviction eviction) const {
    int64_t best = -1;
    std::pair<int, int64_t> bestRank{std::numeric_limits<int>::max(), 0};
    for (size_t i = 0; i < slots_.size(); ++i) {
        if (!slots_[i].key) continue;
        // Even an expert the batch still needs may go when nothing else can (a layer needing more
        // experts than the pool holds runs in waves): the one it needs last, fetched again when
        // its turn comes.
        const ExpertKey key = *slots_[i].key;
        const Use use = need(key);
        const uint64_t age = eviction == Eviction::Lru ? slots_[i].lastUsed : slots_[i].loadedAt;
        int64_t order = static_cast<int64_t>(age);
        if (use.need == Need::Later && eviction != Eviction::PlainFifo)
            order = -static_cast<int64_t>(std::min<uint64_t>(use.nextUse, INT64_MAX));
        if (use.need == Need::Needed) order = -static_cast<int64_t>(flatIndex(key));
        // Plain FIFO sees only whether this batch still needs an expert, not the queued batches.
        const int needClass =
            eviction == Eviction::PlainFifo ? (use.need == Need::Needed ? 1 : 0) : static_cast<int>(use.need);
        const std::pair<int, int64_t> rank{needClass, order};
        if (best < 0 || rank < bestRank) {
            best = static_cast<int64_t>(i);
            bestRank = rank;
        }
    }
    if (best < 0) throw Error("internal error: the expert pool has no resident expert to evict");
    return best;
}

void ExpertStore::evictSlot(int64_t slot, ResidencyLog& log) {
    Slot& s = slots_[static_cast<size_t>(slot)];
    // A copy made ahead and evicted before its use still has to finish before the slot is reused.
    finishCopy(s, log);
    // CUDA: the copy out of these host bytes may still run; they are released once it is done.
    if (s.ready && s.source && !s.ready->query())
        retired_.emplace_back(std::move(*s.ready), std::move(s.source));
    s.ready.reset();
    s.source.reset();
    log.evicted[static_cast<size_t>(s.key->layer)].push_back(static_cast<int32_t>(s.key->expert));
    residentFlags_[flatIndex(*s.key)] = false;
    where_.erase(*s.key);
    s.key.reset();
}

void ExpertStore::finishCopy(Slot& slot, ResidencyLog& log) {
    if (!slot.copying) return;
    const auto start = std::chrono::steady_clock::now();
    std::exception_ptr failed;
    CopyTicket::Waited waited;
    try {
        waited = slot.copying->wait();
    } catch (...) {
        failed = std::current_exception();
    }
    const auto end = std::chrono::steady_clock::now();
    log.copyMs += waited.waitedMs;
    log.copyHiddenMs += waited.hiddenMs;
    // The part of this wait during which the copy itself waited for the disk.
    if (slot.diskWait) {
        const auto from = std::max(start, slot.diskWait->from), to = std::min(end, slot.diskWait->to);
        if (to > from) log.diskWaitMs += std::chrono::duration<double, std::milli>(to - from).count();
    }
    slot.copying.reset();
    slot.diskWait.reset();
    if (failed) {
        // The slot holds no expert: a later use reads it again.
        if (slot.key) {
            residentFlags_[flatIndex(*slot.key)] = false;
            where_.erase(*slot.key);
            slot.key.reset();
        }
        std::rethrow_exception(failed);
    }
}

void ExpertStore::copyFromHost(const at::Tensor& buffer, ExpertKey key, DiskWait* waited) {
    const auto start = std::chrono::steady_clock::now();
    double waitedMs = 0;
    const auto bytes = host_->get(key, lookahead_.view(), &waitedMs);
    if (waited) {
        waited->from = start;
        waited->to = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double, std::milli>(waitedMs));
    }
    const int64_t half = dModel_ * dFf_;
    convertInto(buffer.narrow(0, 0, half), bytes->wi.reshape({-1}));
    convertInto(buffer.narrow(0, half, half), bytes->wo.reshape({-1}));
}

void ExpertStore::copyIn(int64_t slot, ExpertKey key, bool ahead, ResidencyLog& log) {
    const auto start = std::chrono::steady_clock::now();
    Slot& s = slots_[static_cast<size_t>(slot)];
    if (!s.buffer.defined()) {
        checkSlotAllocation();
        s.buffer = at::empty({2 * dModel_ * dFf_}, at::TensorOptions().dtype(dtype_).device(device_));
    }
    if (device_.is_cuda()) {
        std::erase_if(retired_, [](const auto& retired) { return retired.first.query(); });
        double waitedMs = 0;
        s.source = host_->get(key, lookahead_.view(), &waitedMs);
        log.diskWaitMs += waitedMs;
        const int64_t half = dModel_ * dFf_;
        // The slot may still be read by kernels queued on the compute stream: the copy stream
        // waits for them, then copies; the compute stream waits for the copy before use.
        c10::Event computed(device_.type());
        computed.record(currentStream(device_));
        computed.block(*copyStream_);
        {
            c10::StreamGuard onCopyStream(*copyStream_);
            s.buffer.narrow(0, 0, half).view({dFf_, dModel_}).copy_(s.source->wi, /*non_blocking=*/true);
            s.buffer.narrow(0, half, half).view({dModel_, dFf_}).copy_(s.source->wo, /*non_blocking=*/true);
        }
        s.ready.emplace(device_.type());
        s.ready->record(*copyStream_);
    } else if (ahead) {
        s.diskWait = std::make_shared<DiskWait>();
        s.copying = copyEngine_->submit(
            [this, buffer = s.buffer, key, wait = s.diskWait] { copyFromHost(buffer, key, wait.get()); });
    } else {
        DiskWait waited;
        copyFromHost(s.buffer, key, &waited);
        log.diskWaitMs += std::chrono::duration<double, std::milli>(waited.to - waited.from).count();
    }
    s.key = key;
    residentFlags_[flatIndex(key)] = true;
    s.loadedAt = s.lastUsed = ++clock_;
    where_[key] = slot;
    log.copiedIn[static_cast<size_t>(key.layer)].push_back(static_cast<int32_t>(key.expert));
    log.bytesCopied += static_cast<uint64_t>(expertBytes_);
    bytesCopiedTotal_ += static_cast<uint64_t>(expertBytes_);
    log.copyMs += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

bool ExpertStore::fetch(ExpertKey key, const NeedOf& need, Eviction eviction, ResidencyLog& log) {
    if (where_.contains(key)) return false;
    int64_t slot = freeSlot();
    if (slot < 0) {
        slot = chooseVictim(need, eviction);
        evictSlot(slot, log);
    }
    copyIn(slot, key, /*ahead=*/false, log);
    return true;
}

ExpertStore::Ahead ExpertStore::fetchAhead(ExpertKey key, const NeedOf& need, Eviction eviction,
                                           bool evictLaterNeeds, ResidencyLog& log) {
    if (where_.contains(key)) return Ahead::Resident;
    int64_t slot = freeSlot();
    if (slot < 0) {
        slot = chooseVictim(need, eviction);
        const ExpertKey victim = *slots_[static_cast<size_t>(slot)].key;
        const Need victimNeed = need(victim).need;
        if (victimNeed == Need::Needed && (!evictLaterNeeds || victim <= key)) return Ahead::NoRoom;
        evictSlot(slot, log);
    }
    copyIn(slot, key, /*ahead=*/true, log);
    return Ahead::Started;
}

void ExpertStore::evictUnneeded(const NeedOf& need, ResidencyLog& log) {
    for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].key && need(*slots_[i].key).need != Need::Needed)
            evictSlot(static_cast<int64_t>(i), log);
}

ExpertWeights ExpertStore::weights(ExpertKey key, ResidencyLog& log) {
    Slot& s = slots_[static_cast<size_t>(where_.at(key))];
    s.lastUsed = ++clock_;
    if (s.ready) s.ready->block(currentStream(device_));
    finishCopy(s, log);
    const int64_t half = dModel_ * dFf_;
    return {s.buffer.narrow(0, 0, half).view({dFf_, dModel_}),
            s.buffer.narrow(0, half, half).view({dModel_, dFf_})};
}

ExpertWeights ExpertStore::hostWeights(ExpertKey key, const at::Device& device) const {
    const auto bytes = host_->get(key, lookahead_.view());
    return {bytes->wi.to(device, dtype_), bytes->wo.to(device, dtype_)};
}

} // namespace sida::detail
