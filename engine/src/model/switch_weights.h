// SPDX-License-Identifier: MIT
// The tensors of a Switch Transformers encoder classifier, and their Hugging Face names.
#pragma once

#include "sida/config.h"

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

namespace sida::detail {

struct ExpertWeights {
    at::Tensor wi; ///< [d_ff, d_model]
    at::Tensor wo; ///< [d_model, d_ff]
};

struct BlockWeights {
    bool sparse = false;
    at::Tensor attentionNorm;           ///< [d]
    at::Tensor q, k, v;                 ///< [H*d_kv, d]
    at::Tensor o;                       ///< [d, H*d_kv]
    at::Tensor ffNorm;                  ///< [d]
    ExpertWeights dense;                ///< dense blocks only
    at::Tensor router;                  ///< sparse blocks: [E, d], always float32
    at::Tensor routerBias;              ///< [E] when config.router_bias, else undefined
    std::vector<ExpertWeights> experts; ///< sparse blocks: E experts
};

struct ClassifierWeights {
    at::Tensor denseWeight, denseBias; ///< [d, d], [d]
    at::Tensor outWeight, outBias;     ///< [labels, d], [labels]
    bool present() const { return outWeight.defined(); }
};

struct SwitchWeights {
    at::Tensor shared;       ///< [V, d]
    at::Tensor relativeBias; ///< [buckets, H], block 0's table
    std::vector<BlockWeights> blocks;
    at::Tensor finalNorm; ///< [d]
    ClassifierWeights classifier;
};

/// One named tensor of the layout, with the shape config.json implies.
template <class TensorPointer>
struct BasicTensorSlot {
    std::string name;
    std::vector<int64_t> shape;
    TensorPointer tensor;
    bool isExpert = false; ///< lives in the expert tiers when serving
    bool isRouter = false; ///< kept in float32 whatever the compute dtype
};
using TensorSlot = BasicTensorSlot<at::Tensor*>;
using ConstTensorSlot = BasicTensorSlot<const at::Tensor*>;

/// Sizes the block and expert containers of `weights` to the config.
void resizeWeights(const SwitchConfig& config, SwitchWeights& weights);

/// Every tensor of the encoder classifier with its Hugging Face name, in a fixed order (the
/// classifier head when numLabels > 0). The one place that knows the names. `weights` must be
/// sized to the config (resizeWeights).
std::vector<TensorSlot> tensorSlots(const SwitchConfig& config, int64_t numLabels, SwitchWeights& weights);
std::vector<ConstTensorSlot> tensorSlots(const SwitchConfig& config, int64_t numLabels,
                                         const SwitchWeights& weights);

/// Labels of the classifier head in `weights` (0 when there is none).
int64_t headLabels(const SwitchWeights& weights);

/// Hugging Face names of one expert's two matrices.
std::string expertTensorName(int64_t block, int64_t expert, const char* matrix);

/// The Switch encoder's parameter count as the spec's formulas give it (shared embedding + encoder,
/// tied embeddings counted once) plus the classifier head when numLabels > 0.
int64_t expectedParameterCount(const SwitchConfig& config, int64_t numLabels);

} // namespace sida::detail
