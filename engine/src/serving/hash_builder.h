// SPDX-License-Identifier: MIT
// The hash-building thread's work for one batch: the hash table from the predictor (sida,
// sida-exact) or from the routers themselves (oracle).
#pragma once

#include "model/model_impl.h"
#include "serving/serving_hooks.h"

namespace sida::detail {

/// `batch` is the batch's tokens on the model's device. Standard and on-demand need no table.
HashTable buildHashTable(const Model::Impl& model, const TokenBatch& batch, Policy policy, int topK);

} // namespace sida::detail
