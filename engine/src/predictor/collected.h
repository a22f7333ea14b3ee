// SPDX-License-Identifier: MIT
// Router activations on disk (`sida collect`): safetensors shards of token ids and each MoE
// layer's top-T router logits, for real tokens only.
#pragma once

#include "predictor/distillation.h"

#include <filesystem>
#include <string>

namespace sida::detail {

/// Reads every shard of a collection made for this model (its fingerprint must match).
TeacherData readCollected(const std::filesystem::path& dir, const Model::Impl& model,
                          const std::string& fingerprint);

} // namespace sida::detail
