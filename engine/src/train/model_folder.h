// SPDX-License-Identifier: MIT
// Writing what training produces: a Hugging Face model folder and its training.json record.
#pragma once

#include "model/switch_weights.h"
#include "sida/train.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace sida::detail {

/// config.json + model.safetensors (in `storage`, routers float32) + spiece.model (copied from
/// `spiece` unless it is already there).
void writeModelFolder(const std::filesystem::path& dir, const SwitchConfig& config,
                      const SwitchWeights& weights, at::ScalarType storage,
                      const std::filesystem::path& spiece);

/// The parts of training.json every run has: what ran, where, on what software and data.
nlohmann::json trainingRecord(const std::string& command, uint64_t seed, const std::string& device,
                              const std::vector<std::pair<std::string, std::filesystem::path>>& dataFiles);

nlohmann::json epochToJson(const EpochMetrics& epoch);
EpochMetrics epochFromJson(const nlohmann::json& j);
nlohmann::json epochsToJson(const std::vector<EpochMetrics>& epochs);

/// Completes `record` with the epochs and wall time of `result` (summed over resumed sessions)
/// and the time it finished, and writes it as training.json.
void writeTrainingJson(const std::filesystem::path& dir, nlohmann::json record, TrainResult& result);

/// The storage dtype named by a setting: float32 or bfloat16 (float16 is refused).
at::ScalarType parseStorageDType(const std::string& name);

} // namespace sida::detail
