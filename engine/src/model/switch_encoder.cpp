// SPDX-License-Identifier: MIT
#include "model/switch_encoder.h"

#include "sida/errors.h"

#include <algorithm>
#include <limits>

namespace sida::detail {
namespace {

at::Tensor dropout(const at::Tensor& x, const ForwardOptions& o) {
    return o.training && o.dropout > 0 ? at::dropout(x, o.dropout, true) : x;
}

at::Tensor activate(const at::Tensor& x, const std::string& fn) {
    if (fn == "relu") return at::relu(x);
    if (fn == "gelu") return at::gelu(x);
    if (fn == "gelu_new") return at::gelu(x, "tanh");
    return at::silu(x);
}

// DenseActDense: wi, activation, dropout, cast to wo's dtype, wo.
at::Tensor feedForward(const ExpertWeights& w, const at::Tensor& h, const std::string& act,
                       const ForwardOptions& o) {
    at::Tensor y = dropout(activate(at::linear(h, w.wi), act), o);
    return at::linear(y.to(w.wo.scalar_type()), w.wo);
}

// The position bias of block 0 plus the additive padding mask: [B, H, S, S].
at::Tensor positionBias(const SwitchConfig& c, const SwitchWeights& w, const at::Tensor& mask,
                        at::ScalarType dtype) {
    const int64_t length = mask.size(1);
    const at::Tensor buckets =
        relativePositionBuckets(length, c.relative_attention_num_buckets, c.relative_attention_max_distance)
            .to(w.relativeBias.device());
    const at::Tensor bias = at::embedding(w.relativeBias, buckets).permute({2, 0, 1}).unsqueeze(0);
    const double minValue = dtype == at::kBFloat16
                                ? -3.3895313892515355e38
                                : static_cast<double>(std::numeric_limits<float>::lowest());
    const at::Tensor additiveMask = (1 - mask.to(dtype)).unsqueeze(1).unsqueeze(1) * minValue;
    return bias.to(dtype) + additiveMask;
}

at::Tensor selfAttention(const SwitchConfig& c, const BlockWeights& b, const at::Tensor& h,
                         const at::Tensor& bias, const ForwardOptions& o) {
    const int64_t batch = h.size(0), length = h.size(1);
    auto heads = [&](const at::Tensor& weight) {
        return at::linear(h, weight).view({batch, length, c.num_heads, c.d_kv}).transpose(1, 2);
    };
    const at::Tensor q = heads(b.q), k = heads(b.k), v = heads(b.v);
    // T5 folds 1/sqrt(d_kv) into the initialisation: no scaling here.
    const at::Tensor scores = at::matmul(q, k.transpose(3, 2)) + bias;
    const at::Tensor probs = dropout(at::softmax(scores.to(at::kFloat), -1).to(scores.scalar_type()), o);
    const at::Tensor context = at::matmul(probs, v).transpose(1, 2).reshape({batch, length, c.innerDim()});
    return at::linear(context, b.o);
}

// Per (sequence, expert), tokens in position order beyond expert_capacity lose their expert.
at::Tensor capacityDropped(const at::Tensor& expert, const at::Tensor& sequenceOf, int64_t numExperts,
                           int64_t capacity) {
    const int64_t n = expert.size(0);
    if (n == 0) return at::zeros({0}, expert.options().dtype(at::kBool));
    const at::Tensor key = sequenceOf * numExperts + expert;
    const auto [sortedKey, order] = key.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false);
    const at::Tensor positions = at::arange(n, key.options());
    at::Tensor runStarts = positions.clone();
    if (n > 1) {
        const at::Tensor continues = sortedKey.slice(0, 1).eq(sortedKey.slice(0, 0, n - 1));
        runStarts.slice(0, 1).masked_fill_(continues, 0);
    }
    runStarts = std::get<0>(at::cummax(runStarts, 0));
    at::Tensor rank = at::empty_like(positions);
    rank.index_put_({order}, positions - runStarts);
    return rank >= capacity;
}

at::Tensor moeLayer(const SwitchConfig& c, const BlockWeights& block, int moeLayerIndex,
                    const at::Tensor& normed, const TokenBatch& batch, MoeHooks& hooks,
                    const ForwardOptions& o, MoeRecord& record) {
    const int64_t d = c.d_model;
    const at::Tensor tokens = normed.reshape({-1, d}).index_select(0, batch.realIndex);
    record.decision = hooks.decide(moeLayerIndex, tokens, [&] {
        record.router = runRouter(block, tokens, o);
        return *record.router;
    });
    const MoeDecision& decision = record.decision;
    const int64_t n = tokens.size(0), k = decision.experts.size(1);

    at::Tensor experts = decision.experts.reshape({-1});
    at::Tensor weights = decision.weights.reshape({-1}).to(tokens.scalar_type());
    at::Tensor tokenOf = at::arange(n, batch.realIndex.options()).repeat_interleave(k);
    if (decision.enforceCapacity) {
        if (k != 1) throw Error("internal error: capacity is defined for top-1 routing only");
        record.dropped = capacityDropped(experts, batch.sequenceOf, c.num_experts, c.expert_capacity);
        const at::Tensor kept = record.dropped.logical_not().nonzero().squeeze(1);
        experts = experts.index_select(0, kept);
        weights = weights.index_select(0, kept);
        tokenOf = tokenOf.index_select(0, kept);
    }

    at::Tensor output = at::zeros_like(tokens);
    const auto [sortedExperts, order] = experts.sort(/*stable=*/true, 0, false);
    const at::Tensor counts = at::bincount(experts, {}, c.num_experts).cpu();
    const int64_t* count = counts.data_ptr<int64_t>();
    std::vector<int64_t> active;
    for (int64_t e = 0; e < c.num_experts; ++e)
        if (count[e] > 0) active.push_back(e);
    hooks.prepare(moeLayerIndex, active);

    int64_t start = 0;
    for (int64_t e = 0; e < c.num_experts; ++e) {
        if (count[e] == 0) continue;
        const at::Tensor slots = order.slice(0, start, start + count[e]);
        start += count[e];
        const at::Tensor index = tokenOf.index_select(0, slots);
        const at::Tensor y =
            feedForward(hooks.expert(moeLayerIndex, e), tokens.index_select(0, index), c.dense_act_fn, o);
        output.index_add_(0, index, y * weights.index_select(0, slots).unsqueeze(1));
    }
    at::Tensor full = at::zeros({normed.size(0) * normed.size(1), d}, normed.options());
    full.index_copy_(0, batch.realIndex, output);
    return full.view(normed.sizes());
}

} // namespace

TokenBatch makeTokenBatch(const at::Tensor& ids, const at::Tensor& mask) {
    TokenBatch batch;
    batch.ids = ids;
    batch.mask = mask;
    batch.realIndex = mask.reshape({-1}).nonzero().squeeze(1);
    batch.sequenceOf = at::div(batch.realIndex, ids.size(1), "floor");
    return batch;
}

TokenBatch padSequences(const std::vector<const std::vector<int64_t>*>& sequences, int64_t padId,
                        const at::Device& device) {
    size_t length = 1;
    for (const auto* s : sequences) length = std::max(length, s->size());
    const auto batch = static_cast<int64_t>(sequences.size());
    at::Tensor ids = at::full({batch, static_cast<int64_t>(length)}, padId, at::kLong);
    at::Tensor mask = at::zeros({batch, static_cast<int64_t>(length)}, at::kLong);
    auto* idData = ids.data_ptr<int64_t>();
    auto* maskData = mask.data_ptr<int64_t>();
    for (int64_t b = 0; b < batch; ++b)
        for (size_t s = 0; s < sequences[b]->size(); ++s) {
            idData[b * static_cast<int64_t>(length) + static_cast<int64_t>(s)] = (*sequences[b])[s];
            maskData[b * static_cast<int64_t>(length) + static_cast<int64_t>(s)] = 1;
        }
    return makeTokenBatch(ids.to(device), mask.to(device));
}

at::Tensor relativePositionBuckets(int64_t length, int64_t numBuckets, int64_t maxDistance) {
    const at::Tensor positions = at::arange(length, at::kLong);
    at::Tensor relative = positions.unsqueeze(0) - positions.unsqueeze(1); // key - query
    const int64_t half = numBuckets / 2;
    at::Tensor buckets = relative.gt(0).to(at::kLong) * half;
    relative = relative.abs();
    const int64_t maxExact = half / 2;
    const at::Tensor isSmall = relative.lt(maxExact);
    // Clamped at 1 so that log never sees 0 (those entries are "small" and discarded anyway).
    at::Tensor large = maxExact + (at::log(relative.clamp_min(1).to(at::kFloat) / maxExact) /
                                   std::log(static_cast<double>(maxDistance) / maxExact) * (half - maxExact))
                                      .to(at::kLong);
    large = at::clamp_max(large, half - 1);
    return buckets + at::where(isSmall, relative, large);
}

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
    const at::Tensor x32 = x.to(at::kFloat);
    at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, true) + eps);
    if (weight.scalar_type() == at::kHalf || weight.scalar_type() == at::kBFloat16)
        normed = normed.to(weight.scalar_type());
    return weight * normed;
}

RouterOutput runRouter(const BlockWeights& block, const at::Tensor& normed, const ForwardOptions& o) {
    at::Tensor x = normed.to(at::kFloat);
    if (o.training && o.routerJitter > 0)
        x = x * at::empty_like(x).uniform_(1.0 - o.routerJitter, 1.0 + o.routerJitter);
    RouterOutput out;
    out.logits = block.routerBias.defined() ? at::linear(x, block.router, block.routerBias)
                                            : at::linear(x, block.router);
    out.probs = at::softmax(out.logits, -1, at::kFloat).to(normed.scalar_type());
    const auto [prob, expert] = out.probs.max(-1);
    out.prob = prob;
    out.expert = expert;
    return out;
}

MoeDecision top1Decision(const RouterOutput& router, bool enforceCapacity) {
    return {router.expert.unsqueeze(1), router.prob.unsqueeze(1), enforceCapacity};
}

MoeDecision RouterHooks::decide(int, const at::Tensor&, const std::function<RouterOutput()>& runRouter) {
    return top1Decision(runRouter(), !noDrop_);
}

ExpertWeights RouterHooks::expert(int moeLayer, int64_t expert) {
    return weights_.blocks[sparseBlocks_[moeLayer]].experts[expert];
}

EncoderOutput runEncoder(const SwitchConfig& c, const SwitchWeights& w, const TokenBatch& batch,
                         MoeHooks& hooks, const ForwardOptions& o) {
    const at::ScalarType dtype = w.shared.scalar_type();
    EncoderOutput out;
    at::Tensor x = dropout(at::embedding(w.shared, batch.ids), o);
    const at::Tensor bias = positionBias(c, w, batch.mask, dtype);
    int moeIndex = 0;
    for (const BlockWeights& b : w.blocks) {
        x = x + dropout(selfAttention(c, b, rmsNorm(x, b.attentionNorm, c.layer_norm_epsilon), bias, o), o);
        const at::Tensor h = rmsNorm(x, b.ffNorm, c.layer_norm_epsilon);
        at::Tensor y;
        if (b.sparse) {
            out.moe.emplace_back();
            y = moeLayer(c, b, moeIndex++, h, batch, hooks, o, out.moe.back());
        } else {
            y = feedForward(b.dense, h, c.dense_act_fn, o);
        }
        x = x + dropout(y, o);
    }
    out.hidden = dropout(rmsNorm(x, w.finalNorm, c.layer_norm_epsilon), o);
    return out;
}

at::Tensor classifierLogits(const SwitchWeights& w, const at::Tensor& hidden, const at::Tensor& mask,
                            const ForwardOptions& o) {
    const at::Tensor m = mask.unsqueeze(-1).to(hidden.scalar_type());
    at::Tensor pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1);
    pooled = at::tanh(at::linear(dropout(pooled, o), w.classifier.denseWeight, w.classifier.denseBias));
    return at::linear(dropout(pooled, o), w.classifier.outWeight, w.classifier.outBias).to(at::kFloat);
}

} // namespace sida::detail
