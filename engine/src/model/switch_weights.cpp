// SPDX-License-Identifier: MIT
#include "model/switch_weights.h"

#include "sida/errors.h"

#include <cstdint>
#include <initializer_list>

namespace sida::detail {

std::string expertTensorName(int64_t block, int64_t expert, const char* matrix) {
    return "encoder.block." + std::to_string(block) + ".layer.1.mlp.experts.expert_" +
           std::to_string(expert) + "." + matrix + ".weight";
}

void resizeWeights(const SwitchConfig& c, SwitchWeights& w) {
    w.blocks.resize(c.num_layers);
    for (int64_t i = 0; i < c.num_layers; ++i) {
        w.blocks[i].sparse = c.isSparse(i);
        w.blocks[i].experts.resize(w.blocks[i].sparse ? c.num_experts : 0);
    }
}

int64_t headLabels(const SwitchWeights& w) {
    return w.classifier.present() ? w.classifier.outWeight.size(0) : 0;
}

namespace {

template <class Slot, class Weights>
std::vector<Slot> slotsOf(const SwitchConfig& c, int64_t numLabels, Weights& w) {
    if (static_cast<int64_t>(w.blocks.size()) != c.num_layers)
        throw Error("internal error: weights are not sized to the config");
    const int64_t d = c.d_model, inner = c.innerDim();
    std::vector<Slot> slots;
    auto add = [&](std::string name, std::vector<int64_t> shape, auto* tensor) -> Slot& {
        slots.push_back({std::move(name), std::move(shape), tensor});
        return slots.back();
    };

    add("shared.weight", {c.vocab_size, d}, &w.shared);
    add("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        {c.relative_attention_num_buckets, c.num_heads}, &w.relativeBias);
    for (int64_t i = 0; i < c.num_layers; ++i) {
        auto& b = w.blocks[i];
        const std::string prefix = "encoder.block." + std::to_string(i) + ".layer.";
        add(prefix + "0.layer_norm.weight", {d}, &b.attentionNorm);
        add(prefix + "0.SelfAttention.q.weight", {inner, d}, &b.q);
        add(prefix + "0.SelfAttention.k.weight", {inner, d}, &b.k);
        add(prefix + "0.SelfAttention.v.weight", {inner, d}, &b.v);
        add(prefix + "0.SelfAttention.o.weight", {d, inner}, &b.o);
        add(prefix + "1.layer_norm.weight", {d}, &b.ffNorm);
        if (!b.sparse) {
            add(prefix + "1.mlp.wi.weight", {c.d_ff, d}, &b.dense.wi);
            add(prefix + "1.mlp.wo.weight", {d, c.d_ff}, &b.dense.wo);
            continue;
        }
        add(prefix + "1.mlp.router.classifier.weight", {c.num_experts, d}, &b.router).isRouter = true;
        if (c.router_bias)
            add(prefix + "1.mlp.router.classifier.bias", {c.num_experts}, &b.routerBias).isRouter = true;
        for (int64_t e = 0; e < c.num_experts; ++e) {
            add(expertTensorName(i, e, "wi"), {c.d_ff, d}, &b.experts[e].wi).isExpert = true;
            add(expertTensorName(i, e, "wo"), {d, c.d_ff}, &b.experts[e].wo).isExpert = true;
        }
    }
    add("encoder.final_layer_norm.weight", {d}, &w.finalNorm);
    if (numLabels > 0) {
        add("classifier.dense.weight", {d, d}, &w.classifier.denseWeight);
        add("classifier.dense.bias", {d}, &w.classifier.denseBias);
        add("classifier.out_proj.weight", {numLabels, d}, &w.classifier.outWeight);
        add("classifier.out_proj.bias", {numLabels}, &w.classifier.outBias);
    }
    return slots;
}

} // namespace

std::vector<TensorSlot> tensorSlots(const SwitchConfig& c, int64_t numLabels, SwitchWeights& w) {
    return slotsOf<TensorSlot>(c, numLabels, w);
}

std::vector<ConstTensorSlot> tensorSlots(const SwitchConfig& c, int64_t numLabels, const SwitchWeights& w) {
    return slotsOf<ConstTensorSlot>(c, numLabels, w);
}

namespace {

// Parameter counts of an absurd config.json (a billion experts, d_ff 10^9) overflow 64 bits; the
// estimate saturates instead, so that the memory check refuses it rather than seeing a small or
// negative number.
int64_t saturatingMul(int64_t a, int64_t b) {
    int64_t result;
    return __builtin_mul_overflow(a, b, &result) ? INT64_MAX : result;
}

int64_t saturatingAdd(int64_t a, int64_t b) {
    int64_t sum;
    return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
}

int64_t product(std::initializer_list<int64_t> factors) {
    int64_t result = 1;
    for (int64_t f : factors) result = saturatingMul(result, f);
    return result;
}

// isSparse's rule counted in closed form: num_layers may be absurd too, too many to loop over.
int64_t sparseBlockCount(const SwitchConfig& c) {
    if (c.encoder_sparse_step <= 0 || c.num_layers <= 0) return 0;
    if (c.encoder_sparse_step == 1) return c.num_layers;
    return c.num_layers >= 2 ? (c.num_layers - 2) / c.encoder_sparse_step + 1 : 0;
}

} // namespace

int64_t expectedParameterCount(const SwitchConfig& c, int64_t numLabels) {
    const int64_t d = c.d_model, inner = product({c.num_heads, c.d_kv}), e = c.num_experts;
    const int64_t sparse = sparseBlockCount(c), dense = c.num_layers - sparse;
    const int64_t perBlock = saturatingAdd(product({4, d, inner}), product({2, d}));
    const int64_t perDense = product({2, d, c.d_ff});
    const int64_t perSparse =
        saturatingAdd(saturatingAdd(product({e, d}), c.router_bias ? e : 0), product({e, 2, d, c.d_ff}));
    int64_t total = saturatingAdd(product({c.vocab_size, d}),
                                  saturatingAdd(product({c.relative_attention_num_buckets, c.num_heads}), d));
    total = saturatingAdd(total, product({c.num_layers, perBlock}));
    total = saturatingAdd(total, product({dense, perDense}));
    total = saturatingAdd(total, product({sparse, perSparse}));
    if (numLabels > 0) {
        const int64_t head = saturatingAdd(product({d, d}), d);
        total = saturatingAdd(total, saturatingAdd(head, saturatingAdd(product({numLabels, d}), numLabels)));
    }
    return total;
}

} // namespace sida::detail
