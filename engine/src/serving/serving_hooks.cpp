// SPDX-License-Identifier: MIT
#include "serving/serving_hooks.h"

namespace sida::detail {

void collectNeeded(HashTable& table) {
    table.needed.clear();
    for (const at::Tensor& experts : table.experts) {
        const at::Tensor unique =
            std::get<0>(at::_unique(experts.reshape({-1}), /*sorted=*/true)).contiguous();
        table.needed.emplace_back(unique.data_ptr<int64_t>(), unique.data_ptr<int64_t>() + unique.numel());
    }
}

ServingHooks::ServingHooks(ExpertStore& store, const PipelineOptions& options, bool noDrop,
                           const HashTable* table, at::ScalarType dtype, const at::Device& device,
                           ResidencyLog& log)
    : store_(store), options_(options), noDrop_(noDrop), table_(table), dtype_(dtype), device_(device),
      log_(log), future_(store.lookahead().view()) {
    log_.reset(static_cast<size_t>(store.layers()));
}

namespace {

// How many of the experts next in the order of use the window keeps resident or on their way.
// Each one it makes room for by evicting an expert needed later costs that expert a second copy;
// a few are enough to keep the copy engine busy while the compute runs.
constexpr int kPrefetchWindow = 4;

} // namespace

Use ServingHooks::need(ExpertKey key) const {
    const bool hasTable = table_ && !table_->empty();
    if (key.layer == currentLayer_ && pending_.contains(key.expert)) return {Need::Needed};
    if (key.layer > currentLayer_ && hasTable &&
        table_->needed[static_cast<size_t>(key.layer)].contains(key.expert))
        return {Need::Needed};
    // This batch is done with it. The lookahead's first batch is this one when it has a table.
    if (const uint64_t later = future_.nextUse(key, hasTable ? 1 : 0); later != kNever)
        return {Need::Later, later};
    return {key.layer <= currentLayer_ ? Need::Done : Need::None};
}

void ServingHooks::prefetch() {
    const auto needOf = [this](ExpertKey k) { return need(k); };
    // Standard is the everything-resident reference: it never evicts.
    if (!options_.cacheAcrossBatches && options_.policy != Policy::Standard)
        store_.evictUnneeded(needOf, log_);
    if (!table_ || table_->empty()) return;
    // Never pushing out an expert this batch needs; the window and the layers' own fetches bring
    // in what does not fit.
    const auto fillFreeRoom = [&] {
        for (int l = 0; l < store_.layers(); ++l)
            for (int64_t e : table_->needed[static_cast<size_t>(l)])
                if (store_.fetchAhead({l, e}, needOf, options_.eviction, /*evictLaterNeeds=*/false, log_) ==
                    ExpertStore::Ahead::NoRoom)
                    return;
    };
    fillFreeRoom();
    prefetchWindow();
}

void ServingHooks::prefetchWindow() {
    const auto needOf = [this](ExpertKey k) { return need(k); };
    int ahead = 0;
    // Returns false once the window is full or the pool has no room.
    auto keep = [&](ExpertKey key) {
        if (ahead++ >= kPrefetchWindow) return false;
        const auto result = store_.fetchAhead(key, needOf, options_.eviction, /*evictLaterNeeds=*/true, log_);
        // An expert of a layer already routed is one the router asked for: fetched on demand,
        // even when its copy overlaps the compute of the experts before it.
        if (result == ExpertStore::Ahead::Started && key.layer == currentLayer_)
            ++log_.fetchedOnDemand[static_cast<size_t>(key.layer)];
        return result != ExpertStore::Ahead::NoRoom;
    };
    if (currentLayer_ >= 0)
        for (int64_t e : pending_)
            if (!keep({currentLayer_, e})) return;
    if (!table_ || table_->empty()) return;
    for (int l = currentLayer_ + 1; l < store_.layers(); ++l)
        for (int64_t e : table_->needed[static_cast<size_t>(l)])
            if (!keep({l, e})) return;
}

MoeDecision ServingHooks::decide(int moeLayer, const at::Tensor& normed,
                                 const std::function<RouterOutput()>& runRouter) {
    currentLayer_ = moeLayer;
    const bool capacity = !noDrop_;
    switch (options_.policy) {
    case Policy::Standard:
    case Policy::OnDemand:
    case Policy::SidaExact:
        return top1Decision(runRouter(), capacity);
    case Policy::Oracle: {
        const auto& t = *table_;
        return {t.experts[moeLayer].narrow(1, 0, 1).to(device_),
                t.probs[moeLayer].narrow(1, 0, 1).to(device_, dtype_), capacity};
    }
    case Policy::Sida: {
        const auto& t = *table_;
        MoeDecision d{t.experts[moeLayer].to(device_), t.probs[moeLayer].to(device_, dtype_), false};
        if (options_.shadowRouter || options_.scaleByRouter) {
            const RouterOutput router = runRouter();
            if (options_.scaleByRouter) d.weights = router.probs.gather(1, d.experts);
        }
        return d;
    }
    }
    return top1Decision(runRouter(), capacity);
}

void ServingHooks::prepare(int moeLayer, const std::vector<int64_t>& experts) {
    currentLayer_ = moeLayer;
    pending_ = {experts.begin(), experts.end()};
    // Routed now: every one of them not in the pool is read from disk at once, in parallel.
    std::vector<ExpertKey> keys;
    for (int64_t e : experts) keys.push_back({moeLayer, e});
    store_.readSoon(keys);
    prefetchWindow();
}

ExpertWeights ServingHooks::expert(int moeLayer, int64_t expert) {
    const ExpertKey key{moeLayer, expert};
    if (store_.fetch(
            key, [this](ExpertKey k) { return need(k); }, options_.eviction, log_))
        ++log_.fetchedOnDemand[static_cast<size_t>(moeLayer)];
    // While this expert is still pending, nothing the window evicts can be it: on the CPU its
    // compute has not started yet.
    prefetchWindow();
    pending_.erase(expert);
    return store_.weights(key, log_);
}

namespace {

PipelineOptions routerOptions() {
    PipelineOptions o;
    o.policy = Policy::OnDemand;
    return o;
}

} // namespace

StoreRouterHooks::StoreRouterHooks(ExpertStore& store, bool noDrop)
    : hooks_(store, routerOptions(), noDrop, nullptr, at::kFloat, store.device(), log_) {}

MoeDecision StoreRouterHooks::decide(int moeLayer, const at::Tensor& normed,
                                     const std::function<RouterOutput()>& runRouter) {
    return hooks_.decide(moeLayer, normed, runRouter);
}

void StoreRouterHooks::prepare(int moeLayer, const std::vector<int64_t>& experts) {
    hooks_.prepare(moeLayer, experts);
}

ExpertWeights StoreRouterHooks::expert(int moeLayer, int64_t expert) {
    return hooks_.expert(moeLayer, expert);
}

} // namespace sida::detail
