// SPDX-License-Identifier: MIT
#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace sida::detail {
namespace {

bool endsWith(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The standard deviation Hugging Face's _init_weights gives each kind of tensor (factor 1); 0 for
// norms (ones) and biases (zeros).
double initialStd(const std::string& name, const SwitchConfig& c) {
    const double d = static_cast<double>(c.d_model);
    if (name == "shared.weight") return 1.0;
    if (endsWith(name, "relative_attention_bias.weight")) return std::pow(d, -0.5);
    if (endsWith(name, "SelfAttention.q.weight")) return std::pow(d * static_cast<double>(c.d_kv), -0.5);
    if (endsWith(name, "SelfAttention.k.weight") || endsWith(name, "SelfAttention.v.weight"))
        return std::pow(d, -0.5);
    if (endsWith(name, "SelfAttention.o.weight")) return std::pow(static_cast<double>(c.innerDim()), -0.5);
    // Hugging Face draws routers with std 1, which makes early routing nearly hard; a small
    // router lets the load-balancing loss spread tokens before experts specialise.
    if (endsWith(name, "router.classifier.weight")) return 0.1 * std::pow(d, -0.5);
    if (name.find(".experts.") != std::string::npos) return std::pow(d, -0.5);
    if (endsWith(name, "mlp.wi.weight")) return std::pow(d, -0.5);
    if (endsWith(name, "mlp.wo.weight")) return std::pow(static_cast<double>(c.d_ff), -0.5);
    if (name == "classifier.dense.weight" || name == "classifier.out_proj.weight") return std::pow(d, -0.5);
    return 0.0;
}

} // namespace

at::Tensor initialTensor(const TensorSlot& slot, const SwitchConfig& c) {
    if (endsWith(slot.name, "layer_norm.weight")) return at::ones(slot.shape);
    const double std = initialStd(slot.name, c);
    return std > 0 ? at::randn(slot.shape) * std : at::zeros(slot.shape);
}

void initializeHead(const SwitchConfig& c, int64_t numLabels, SwitchWeights& w) {
    for (const TensorSlot& slot : tensorSlots(c, numLabels, w))
        if (slot.name.rfind("classifier.", 0) == 0) *slot.tensor = initialTensor(slot, c);
}

void initializeWeights(const SwitchConfig& c, int64_t numLabels, SwitchWeights& w) {
    resizeWeights(c, w);
    for (const TensorSlot& slot : tensorSlots(c, numLabels, w)) *slot.tensor = initialTensor(slot, c);
}

std::vector<at::Tensor> balancedTokenExperts(const TokenizedSet& train, int64_t vocabSize, int64_t numExperts,
                                             size_t layers, uint64_t seed) {
    std::vector<int64_t> frequency(static_cast<size_t>(vocabSize), 0);
    for (const TokenizedExample& e : train.examples)
        for (int64_t id : e.ids) ++frequency[static_cast<size_t>(id)];
    std::vector<at::Tensor> assignments;
    for (size_t layer = 0; layer < layers; ++layer) {
        // A different token order per layer (ties broken by a seeded shuffle) gives each layer its
        // own assignment.
        std::mt19937_64 rng(seed * 31 + layer);
        std::vector<int64_t> order(static_cast<size_t>(vocabSize));
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t a, int64_t b) { return frequency[a] > frequency[b]; });
        std::vector<int64_t> relabel(static_cast<size_t>(numExperts));
        std::iota(relabel.begin(), relabel.end(), 0);
        std::shuffle(relabel.begin(), relabel.end(), rng);
        std::vector<int64_t> load(static_cast<size_t>(numExperts), 0);
        at::Tensor expertOf = at::empty({vocabSize}, at::kLong);
        auto* out = expertOf.data_ptr<int64_t>();
        for (size_t rank = 0; rank < order.size(); ++rank) {
            const int64_t token = order[rank];
            const auto lightest = std::min_element(load.begin(), load.end()) - load.begin();
            const int64_t slot = frequency[token] > 0 ? lightest : static_cast<int64_t>(rank) % numExperts;
            out[token] = relabel[static_cast<size_t>(slot)];
            load[static_cast<size_t>(slot)] += frequency[token];
        }
        assignments.push_back(expertOf);
    }
    return assignments;
}

std::vector<at::Tensor> trainableParameters(const SwitchConfig& c, SwitchWeights& w, bool headOnly) {
    std::vector<at::Tensor> parameters;
    for (const TensorSlot& slot : tensorSlots(c, headLabels(w), w)) {
        const bool head = slot.name.rfind("classifier.", 0) == 0;
        if (headOnly && !head) continue;
        slot.tensor->requires_grad_(true);
        parameters.push_back(*slot.tensor);
    }
    return parameters;
}

} // namespace sida::detail
