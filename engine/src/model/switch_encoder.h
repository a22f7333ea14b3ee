// SPDX-License-Identifier: MIT
// The Switch Transformers encoder forward pass, exactly as Hugging Face computes it
// (modeling_switch_transformers.py, v4.51+ semantics), shared by inference, training and serving.
// Who chooses each token's expert, and where expert weights come from, is left to MoeHooks, so
// that serving policies (router, hash table, shadow router) reuse this one path.
#pragma once

#include "model/switch_weights.h"

#include <ATen/ATen.h>

#include <functional>
#include <optional>
#include <vector>

namespace sida::detail {

/// The router's view of a MoE layer's real tokens.
struct RouterOutput {
    at::Tensor logits; ///< [N, E] float32
    at::Tensor probs;  ///< [N, E] in the compute dtype (Hugging Face casts before argmax)
    at::Tensor expert; ///< [N] int64, argmax of probs (ties to the lowest index)
    at::Tensor prob;   ///< [N] compute dtype, the chosen expert's probability
};

/// Which experts process each real token and with what weight.
struct MoeDecision {
    at::Tensor experts;           ///< [N, k] int64
    at::Tensor weights;           ///< [N, k] compute dtype; a token's output is sum_i w_i E_i(h)
    bool enforceCapacity = false; ///< drop tokens past expert_capacity per (sequence, expert)
};

/// What a MoE layer did, for traces, distillation and losses.
struct MoeRecord {
    std::optional<RouterOutput> router; ///< present when the router ran
    MoeDecision decision;
    at::Tensor dropped; ///< [N] bool: tokens that lost their expert to the capacity limit
};

/// The tokens of one forward pass.
struct TokenBatch {
    at::Tensor ids;        ///< [B, S] int64, right-padded
    at::Tensor mask;       ///< [B, S] 1 for real tokens
    at::Tensor realIndex;  ///< [N] int64 positions of real tokens in the flattened [B*S]
    at::Tensor sequenceOf; ///< [N] int64 the sequence of each real token
};

TokenBatch makeTokenBatch(const at::Tensor& ids, const at::Tensor& mask);

/// Right-pads token id sequences into one batch on `device`.
TokenBatch padSequences(const std::vector<const std::vector<int64_t>*>& sequences, int64_t padId,
                        const at::Device& device);

class MoeHooks {
public:
    virtual ~MoeHooks() = default;
    /// Chooses experts for layer `moeLayer`'s real tokens; `runRouter` computes the router.
    virtual MoeDecision decide(int moeLayer, const at::Tensor& normed,
                               const std::function<RouterOutput()>& runRouter) = 0;
    /// Called once per layer with the distinct experts about to run (sorted, on the CPU),
    /// before any of them is asked for.
    virtual void prepare(int moeLayer, const std::vector<int64_t>& experts) {}
    /// The weights of one expert, on the compute device, in the compute dtype.
    virtual ExpertWeights expert(int moeLayer, int64_t expert) = 0;
};

/// The plain model: the router decides (top-1, capacity enforced unless `noDrop`), every expert
/// is in `weights`.
class RouterHooks : public MoeHooks {
public:
    RouterHooks(const SwitchWeights& weights, const std::vector<int64_t>& sparseBlocks, bool noDrop)
        : weights_(weights), sparseBlocks_(sparseBlocks), noDrop_(noDrop) {}
    MoeDecision decide(int moeLayer, const at::Tensor& normed,
                       const std::function<RouterOutput()>& runRouter) override;
    ExpertWeights expert(int moeLayer, int64_t expert) override;

private:
    const SwitchWeights& weights_;
    std::vector<int64_t> sparseBlocks_;
    bool noDrop_;
};

/// A router decision as a top-1 MoeDecision.
MoeDecision top1Decision(const RouterOutput& router, bool enforceCapacity);

struct ForwardOptions {
    bool training = false;
    double dropout = 0.0;      ///< used only when training
    double routerJitter = 0.0; ///< used only when training
};

struct EncoderOutput {
    at::Tensor hidden;          ///< [B, S, d] last_hidden_state (after the final norm)
    std::vector<MoeRecord> moe; ///< one per sparse block, in order
};

/// Runs the encoder. `hooks` decides routing and supplies expert weights.
EncoderOutput runEncoder(const SwitchConfig& config, const SwitchWeights& weights, const TokenBatch& batch,
                         MoeHooks& hooks, const ForwardOptions& options);

/// Masked mean pooling, then classifier.dense, tanh, classifier.out_proj: [B, labels] logits.
at::Tensor classifierLogits(const SwitchWeights& weights, const at::Tensor& hidden, const at::Tensor& mask,
                            const ForwardOptions& options);

/// Hugging Face's _relative_position_bucket for the encoder (bidirectional), [S, S] int64.
at::Tensor relativePositionBuckets(int64_t length, int64_t numBuckets, int64_t maxDistance);

/// T5's RMS norm (no mean, no bias), with Hugging Face's casts.
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

/// The router of one sparse block on normed real tokens (jitter only when training).
RouterOutput runRouter(const BlockWeights& block, const at::Tensor& normed, const ForwardOptions& options);

} // namespace sida::detail
