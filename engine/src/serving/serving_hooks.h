// SPDX-License-Identifier: MIT
// One batch's routing and residency under a policy: who chooses experts (router, hash table or
// both) and how experts reach the pool (all resident, prefetched by the hash table, fetched on
// demand). Every policy runs the same encoder through these hooks.
#pragma once

#include "model/switch_encoder.h"
#include "serving/expert_store.h"
#include "sida/pipeline.h"

#include <ATen/ATen.h>

#include <set>
#include <vector>

namespace sida::detail {

/// A batch's predicted experts per MoE layer and real token (rows in sequence order).
struct HashTable {
    std::vector<at::Tensor> experts;       ///< per MoE layer [N, k] int64, CPU
    std::vector<at::Tensor> probs;         ///< per MoE layer [N, k] float32, CPU
    std::vector<std::set<int64_t>> needed; ///< per MoE layer: the distinct experts
    bool empty() const { return experts.empty(); }
};

/// Fills `needed` from `experts`.
void collectNeeded(HashTable& table);

class ServingHooks : public MoeHooks {
public:
    /// `table` may be null for the router-decided policies. The caller holds the store's lock.
    ServingHooks(ExpertStore& store, const PipelineOptions& options, bool noDrop, const HashTable* table,
                 at::ScalarType dtype, const at::Device& device, ResidencyLog& log);

    /// Before the forward: evicts what the batch does not need (when not caching) and starts
    /// copying the hash table's experts in, layer by layer, as far as the pool has room without
    /// evicting anything this batch needs; then the window (below).
    void prefetch();

    MoeDecision decide(int moeLayer, const at::Tensor& normed,
                       const std::function<RouterOutput()>& runRouter) override;
    void prepare(int moeLayer, const std::vector<int64_t>& experts) override;
    ExpertWeights expert(int moeLayer, int64_t expert) override;

private:
    Use need(ExpertKey key) const;
    /// Keeps the next few experts the batch will use resident or on their way (evicting, if it
    /// must, experts needed after them), so that their copies overlap the compute before them:
    /// the rest of the current layer (known once it is routed), then the hash table's.
    void prefetchWindow();

    ExpertStore& store_;
    PipelineOptions options_;
    bool noDrop_;
    const HashTable* table_;
    at::ScalarType dtype_;
    at::Device device_;
    ResidencyLog& log_;
    LookaheadView future_; ///< the queued batches' experts when this batch began
    int currentLayer_ = -1;
    std::set<int64_t> pending_; ///< experts of the current layer not computed yet
};

/// Router-decided hooks over the store (Model::classify, evaluation, collection): the routers
/// choose, experts missing from the pool are fetched. The caller holds the store's lock.
class StoreRouterHooks : public MoeHooks {
public:
    StoreRouterHooks(ExpertStore& store, bool noDrop);
    MoeDecision decide(int moeLayer, const at::Tensor& normed,
                       const std::function<RouterOutput()>& runRouter) override;
    void prepare(int moeLayer, const std::vector<int64_t>& experts) override;
    ExpertWeights expert(int moeLayer, int64_t expert) override;

private:
    ResidencyLog log_;
    ServingHooks hooks_;
};

} // namespace sida::detail
