// SPDX-License-Identifier: MIT
#include "serving/lookahead.h"

#include <algorithm>

namespace sida::detail {

uint64_t LookaheadView::nextUse(ExpertKey key, size_t fromBatch) const {
    const uint64_t perBatch = static_cast<uint64_t>(layers_) * static_cast<uint64_t>(experts_);
    for (size_t b = fromBatch; b < batches_.size(); ++b) {
        const Needs& needs = *batches_[b];
        if (static_cast<size_t>(key.layer) < needs.size() &&
            needs[static_cast<size_t>(key.layer)].contains(key.expert))
            return b * perBatch + static_cast<uint64_t>(key.layer) * static_cast<uint64_t>(experts_) +
                   static_cast<uint64_t>(key.expert);
    }
    return kNever;
}

std::vector<ExpertKey> LookaheadView::inOrder() const {
    std::vector<ExpertKey> keys;
    std::set<ExpertKey> seen;
    for (const auto& needs : batches_)
        for (size_t l = 0; l < needs->size(); ++l)
            for (int64_t e : (*needs)[l]) {
                const ExpertKey key{static_cast<int>(l), e};
                if (seen.insert(key).second) keys.push_back(key);
            }
    return keys;
}

uint64_t Lookahead::add(LookaheadView::Needs needs) {
    std::lock_guard lock(mutex_);
    const uint64_t ticket = nextTicket_++;
    queued_.emplace_back(ticket, std::make_shared<const LookaheadView::Needs>(std::move(needs)));
    return ticket;
}

void Lookahead::remove(uint64_t ticket) {
    std::lock_guard lock(mutex_);
    std::erase_if(queued_, [&](const auto& entry) { return entry.first == ticket; });
}

LookaheadView Lookahead::view() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<const LookaheadView::Needs>> batches;
    for (const auto& [ticket, needs] : queued_) batches.push_back(needs);
    return {std::move(batches), experts_, layers_};
}

} // namespace sida::detail
