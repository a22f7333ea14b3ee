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
}

ExpertStore::ExpertStore(const SwitchConfig& config, const std::vector<int64_t>& moeBlocks,
                         const Checkpoint& checkpoint, at::ScalarType dtype, at::Device device,
                         const ProgressCallback& progress, const CancelToken& cancel)
    : layers_(static_cast<int>(moeBlocks.size())), experts_(config.num_experts), dModel_(config.d_model),
      dFf_(config.d_ff),
      expertBytes_(2 * config.d_model * config.d_ff * static_cast<int64_t>(at::elementSize(dtype))),
      dtype_(dtype), device_(device) {
    const std::vector<int64_t> wiShape{dFf_, dModel_}, woShape{dModel_, dFf_};
    host_.reserve(static_cast<size_t>(totalExperts()));
    for (int l = 0; l < layers_; ++l) {
        for (int64_t e = 0; e < experts_; ++e) {
            cancel.throwIfCancelled();
            HostExpert h;
            for (const char* matrix : {"wi", "wo"}) {
                const std::string name = expertTensorName(moeBlocks[l], e, matrix);
                const TensorLocation location = checkpoint.locate(name);
                const auto& expected = std::string(matrix) == "wi" ? wiShape : woShape;
                if (location.info->shape != expected)
                    throw Error(location.file->path().string() + ": tensor '" + name + "' has shape " +
                                shapeText(location.info->shape) + " but config.json implies " +
                                shapeText(expected));
                // CUDA: a pinned copy in the compute dtype, so that copies are asynchronous DMA.
                // CPU: the mapped bytes themselves; copies into the RAM pool convert the dtype.
                at::Tensor t =
                    device.is_cuda() ? readTensor(location, dtype).pin_memory() : mappedTensor(location);
                checkFinite(t, name, location.file->path().string());
                const bool isWi = std::string(matrix) == "wi";
                (isWi ? h.wi : h.wo) = t;
                if (!device.is_cuda() && t.data_ptr() == location.file->data(*location.info).data())
                    (isWi ? h.wiFile : h.woFile) = {&location.file->mapping(),
                                                    location.file->fileOffset(*location.info),
                                                    location.info->byteSize()};
            }
            host_.push_back(std::move(h));
            if (progress)
                progress({"loading experts", static_cast<int64_t>(host_.size()), totalExperts(),
                          "block " + std::to_string(moeBlocks[l])});
        }
    }
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
        evictSlot(chooseVictim([](ExpertKey) { return Need::None; }, eviction), ignored);
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

void ExpertStore::fillAll(ResidencyLog* log) {
    ResidencyLog local;
    local.reset(static_cast<size_t>(layers_));
    setCapacity(totalExperts(), Eviction::Fifo);
    for (int l = 0; l < layers_; ++l)
        for (int64_t e = 0; e < experts_; ++e)
            fetch(
                {l, e}, [](ExpertKey) { return Need::Needed; }, Eviction::Fifo, log ? *log : local);
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
        const Need n = need(key);
        const uint64_t age = eviction == Eviction::Fifo ? slots_[i].loadedAt : slots_[i].lastUsed;
        const int64_t order =
            n == Need::Needed ? -static_cast<int64_t>(flatIndex(key)) : static_cast<int64_t>(age);
        const std::pair<int, int64_t> rank{static_cast<int>(n), order};
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
    log.evicted[static_cast<size_t>(s.key->layer)].push_back(static_cast<int32_t>(s.key->expert));
    residentFlags_[flatIndex(*s.key)] = false;
    where_.erase(*s.key);
    s.key.reset();
}

void ExpertStore::finishCopy(Slot& slot, ResidencyLog& log) {
    if (!slot.copying) return;
    const CopyTicket::Waited waited = slot.copying->wait();
    log.copyMs += waited.waitedMs;
    log.copyHiddenMs += waited.hiddenMs;
    slot.copying.reset();
}

void ExpertStore::copyFromHost(const at::Tensor& buffer, ExpertKey key) const {
    const HostExpert& h = host(key);
    const int64_t half = dModel_ * dFf_;
    convertInto(buffer.narrow(0, 0, half), h.wi);
    convertInto(buffer.narrow(0, half, half), h.wo);
}

void ExpertStore::copyIn(int64_t slot, ExpertKey key, bool ahead, ResidencyLog& log) {
    const auto start = std::chrono::steady_clock::now();
    Slot& s = slots_[static_cast<size_t>(slot)];
    if (!s.buffer.defined()) {
        checkSlotAllocation();
        s.buffer = at::empty({2 * dModel_ * dFf_}, at::TensorOptions().dtype(dtype_).device(device_));
    }
    if (device_.is_cuda()) {
        const HostExpert& h = host(key);
        const int64_t half = dModel_ * dFf_;
        // The slot may still be read by kernels queued on the compute stream: the copy stream
        // waits for them, then copies; the compute stream waits for the copy before use.
        c10::Event computed(device_.type());
        computed.record(currentStream(device_));
        computed.block(*copyStream_);
        {
            c10::StreamGuard onCopyStream(*copyStream_);
            s.buffer.narrow(0, 0, half).view({dFf_, dModel_}).copy_(h.wi, /*non_blocking=*/true);
            s.buffer.narrow(0, half, half).view({dModel_, dFf_}).copy_(h.wo, /*non_blocking=*/true);
        }
        s.ready.emplace(device_.type());
        s.ready->record(*copyStream_);
    } else if (ahead) {
        s.copying = copyEngine_->submit([this, buffer = s.buffer, key] { copyFromHost(buffer, key); });
    } else {
        copyFromHost(s.buffer, key);
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
        if (need(victim) == Need::Needed && (!evictLaterNeeds || victim <= key)) return Ahead::NoRoom;
        evictSlot(slot, log);
    }
    copyIn(slot, key, /*ahead=*/true, log);
    return Ahead::Started;
}

void ExpertStore::evictUnneeded(const NeedOf& need, ResidencyLog& log) {
    for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].key && need(*slots_[i].key) == Need::None) evictSlot(static_cast<int64_t>(i), log);
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

void ExpertStore::prefetchFromDisk(const std::vector<std::set<int64_t>>& neededPerLayer) const {
    if (device_.is_cuda()) return;
    for (size_t layer = 0; layer < neededPerLayer.size(); ++layer)
        for (int64_t e : neededPerLayer[layer]) {
            const ExpertKey key{static_cast<int>(layer), e};
            if (residentFlags_[flatIndex(key)]) continue;
            const HostExpert& h = host(key);
            for (const FileRange& r : {h.wiFile, h.woFile})
                if (r.file) r.file->prefetch(r.offset, r.length);
        }
}

ExpertWeights ExpertStore::hostWeights(ExpertKey key, const at::Device& device) const {
    const HostExpert& h = host(key);
    return {h.wi.to(device, dtype_), h.wo.to(device, dtype_)};
}

} // namespace sida::detail
