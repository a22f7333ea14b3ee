// SPDX-License-Identifier: MIT
#include "train/trainer.h"

#include <cmath>

namespace sida::detail {
namespace {

at::Tensor normal(std::vector<int64_t> shape, double std) { return at::randn(shape, at::kFloat) * std; }

} // namespace

void initializeHead(const SwitchConfig& c, int64_t numLabels, SwitchWeights& w) {
    const double std = std::pow(static_cast<double>(c.d_model), -0.5);
    w.classifier.denseWeight = normal({c.d_model, c.d_model}, std);
    w.classifier.denseBias = at::zeros({c.d_model});
    w.classifier.outWeight = normal({numLabels, c.d_model}, std);
    w.classifier.outBias = at::zeros({numLabels});
}

void initializeWeights(const SwitchConfig& c, int64_t numLabels, SwitchWeights& w) {
    const double d = static_cast<double>(c.d_model);
    resizeWeights(c, w);
    w.shared = normal({c.vocab_size, c.d_model}, 1.0);
    w.relativeBias = normal({c.relative_attention_num_buckets, c.num_heads}, std::pow(d, -0.5));
    for (BlockWeights& b : w.blocks) {
        b.attentionNorm = at::ones({c.d_model});
        b.ffNorm = at::ones({c.d_model});
        b.q = normal({c.innerDim(), c.d_model}, std::pow(d * c.d_kv, -0.5));
        b.k = normal({c.innerDim(), c.d_model}, std::pow(d, -0.5));
        b.v = normal({c.innerDim(), c.d_model}, std::pow(d, -0.5));
        b.o = normal({c.d_model, c.innerDim()}, std::pow(static_cast<double>(c.innerDim()), -0.5));
        if (!b.sparse) {
            b.dense = {normal({c.d_ff, c.d_model}, std::pow(d, -0.5)),
                       normal({c.d_model, c.d_ff}, std::pow(static_cast<double>(c.d_ff), -0.5))};
            continue;
        }
        // Hugging Face draws routers with std 1, which makes early routing nearly hard; a small
        // router lets the load-balancing loss spread tokens before experts specialise.
        b.router = normal({c.num_experts, c.d_model}, 0.1 * std::pow(d, -0.5));
        if (c.router_bias) b.routerBias = at::zeros({c.num_experts});
        for (ExpertWeights& e : b.experts)
            e = {normal({c.d_ff, c.d_model}, std::pow(d, -0.5)), normal({c.d_model, c.d_ff}, std::pow(d, -0.5))};
    }
    w.finalNorm = at::ones({c.d_model});
    initializeHead(c, numLabels, w);
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
