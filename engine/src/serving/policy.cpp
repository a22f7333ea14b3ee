// SPDX-License-Identifier: MIT
#include "sida/errors.h"
#include "sida/pipeline.h"

#include <algorithm>

namespace sida {

std::string policyName(Policy policy) {
    switch (policy) {
    case Policy::Standard:
        return "standard";
    case Policy::OnDemand:
        return "ondemand";
    case Policy::Sida:
        return "sida";
    case Policy::SidaExact:
        return "sida-exact";
    case Policy::Oracle:
        return "oracle";
    }
    return "?";
}

std::vector<Policy> allPolicies() {
    return {Policy::Standard, Policy::OnDemand, Policy::Sida, Policy::SidaExact, Policy::Oracle};
}

Policy parsePolicy(const std::string& name) {
    for (Policy p : allPolicies())
        if (policyName(p) == name) return p;
    throw Error("policy '" + name + "' is unknown (use standard, ondemand, sida, sida-exact or oracle)");
}

std::string evictionName(Eviction eviction) {
    switch (eviction) {
    case Eviction::Fifo:
        return "fifo";
    case Eviction::Lru:
        return "lru";
    case Eviction::PlainFifo:
        return "plain-fifo";
    }
    return "unknown";
}

Eviction parseEviction(const std::string& name) {
    for (Eviction e : {Eviction::Fifo, Eviction::Lru, Eviction::PlainFifo})
        if (name == evictionName(e)) return e;
    throw Error("eviction '" + name + "' is unknown (use fifo, lru or plain-fifo)");
}

PipelineOptions paperPreset(PipelineOptions base) {
    base.policy = Policy::Sida;
    base.eviction = Eviction::PlainFifo;
    base.cacheAcrossBatches = false;
    base.shadowRouter = false;
    base.scaleByRouter = false;
    return base;
}

bool isPaperPreset(const PipelineOptions& o) {
    return o.policy == Policy::Sida && o.eviction == Eviction::PlainFifo && !o.cacheAcrossBatches &&
           !o.shadowRouter && !o.scaleByRouter;
}

namespace {

void validateBudget(const Budget& budget, const std::string& what) {
    if (budget.kind == Budget::Kind::Fraction && !(budget.fraction > 0 && budget.fraction <= 1))
        throw Error(what + " as a share must be in (0, 1], not " + std::to_string(budget.fraction));
    if (budget.kind == Budget::Kind::Bytes && budget.bytes <= 0)
        throw Error(what + " in bytes must be positive, not " + std::to_string(budget.bytes));
}

} // namespace

int queueDepthFor(const PipelineOptions& o) {
    // How many inputs ahead the caches see decides how close their reads come to the optimum.
    // Synthetic switch-base-128 in a 6 GiB cgroup at batch 1 read 1.39x Belady's optimum with 4
    // tables and 1.07x with 16; at batch 8, 4 tables (32 inputs) read as little as 16 did.
    constexpr int kInputsAhead = 16, kLeast = 4;
    if (o.hashQueueDepth > 0) return o.hashQueueDepth;
    return std::max(kLeast, (kInputsAhead + std::max(1, o.batchSize) - 1) / std::max(1, o.batchSize));
}

void validate(const PipelineOptions& o, const ModelInfo& model) {
    const int64_t experts = model.config.num_experts;
    if (o.batchSize < 1 || o.batchSize > 4096)
        throw Error("batch size " + std::to_string(o.batchSize) + " is out of range (1..4096)");
    if (o.hashQueueDepth < 0 || o.hashQueueDepth > 1024)
        throw Error("hash queue depth " + std::to_string(o.hashQueueDepth) +
                    " is out of range (0 for automatic, or 1..1024)");
    if (o.topK < 1 || o.topK > experts)
        throw Error("top-k " + std::to_string(o.topK) + " is out of range (1.." + std::to_string(experts) +
                    ")");
    validateBudget(o.deviceBudget, "the device pool's budget");
    validateBudget(o.hostBudget, "the host cache's budget");
    if ((o.policy == Policy::Sida || o.policy == Policy::SidaExact) && !model.predictor.present)
        throw Error("policy '" + policyName(o.policy) + "' needs the model's predictor, and '" +
                    model.path.string() +
                    "' has none (train one with 'sida train-predictor', or use standard or ondemand)");
    if (o.policy == Policy::Oracle && o.topK != 1)
        throw Error("the oracle policy uses top-k 1 (the router is top-1)");
}

} // namespace sida
