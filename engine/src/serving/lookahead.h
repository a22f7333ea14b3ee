// SPDX-License-Identifier: MIT
// The future, as far as the hash thread has built it: the experts of each batch whose hash table
// is queued (the batch running now first). Both tiers evict by it, Belady's way: first what no
// queued batch needs, then what is needed farthest ahead; and the host cache reads ahead by it.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

namespace sida::detail {

struct ExpertKey {
    int layer = 0; ///< MoE layer (0-based), not the block index
    int64_t expert = 0;
    auto operator<=>(const ExpertKey&) const = default;
};

/// Position of an expert's next use; kNever when no queued batch uses it.
inline constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

/// The queued batches' experts at one moment. Immutable.
class LookaheadView {
public:
    using Needs = std::vector<std::set<int64_t>>; ///< per MoE layer, the distinct experts
    LookaheadView() = default;
    LookaheadView(std::vector<std::shared_ptr<const Needs>> batches, int64_t expertsPerLayer, int layers)
        : batches_(std::move(batches)), experts_(expertsPerLayer), layers_(layers) {}

    bool empty() const { return batches_.empty(); }
    size_t batches() const { return batches_.size(); }
    /// The order of use: batch, then MoE layer, then expert id (the order the encoder runs them).
    /// `fromBatch` skips the batches before it.
    uint64_t nextUse(ExpertKey key, size_t fromBatch = 0) const;
    /// Every queued need in order of use, each expert once (its first use).
    std::vector<ExpertKey> inOrder() const;

private:
    std::vector<std::shared_ptr<const Needs>> batches_;
    int64_t experts_ = 0;
    int layers_ = 0;
};

/// Thread-safe: the hash thread adds a batch's needs when its table is built, the inference
/// thread removes them once the batch has run (or was cancelled).
class Lookahead {
public:
    Lookahead(int64_t expertsPerLayer, int layers) : experts_(expertsPerLayer), layers_(layers) {}

    /// Returns the ticket that removes it.
    uint64_t add(LookaheadView::Needs needs);
    void remove(uint64_t ticket);
    LookaheadView view() const;

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<uint64_t, std::shared_ptr<const LookaheadView::Needs>>> queued_;
    uint64_t nextTicket_ = 1;
    int64_t experts_;
    int layers_;
};

} // namespace sida::detail
