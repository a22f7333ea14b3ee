// SPDX-License-Identifier: MIT
// predictor.json: what a predictor was built for, its recipe and metrics. Torch-free, so that the
// parser is fuzzed on its own.
#pragma once

#include "sida/config.h"
#include "sida/predictor.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace sida::detail {

struct PredictorMetadata {
    PredictorArchitecture architecture;
    int64_t dModel = 0;
    int64_t vocabSize = 0;
    int64_t numExperts = 0;
    std::vector<int64_t> moeBlocks;
    std::string modelFingerprint; ///< SHA-256 of the model's shared embedding as stored
    nlohmann::json recipe = nlohmann::json::object();
    nlohmann::json metrics = nlohmann::json::object();
};

inline constexpr const char* kPredictorFormat = "sida-predictor";
inline constexpr int kPredictorFormatVersion = 1;

/// Parses predictor.json; sida::Error naming the field when it is malformed.
PredictorMetadata parsePredictorMetadata(const std::string& jsonText, const std::string& source);

/// Throws sida::Error (naming the field) when the predictor was built for a different model.
void checkPredictorFits(const PredictorMetadata& metadata, const SwitchConfig& config,
                        const std::string& fingerprint, const std::string& source);

std::string predictorMetadataToJson(const PredictorMetadata& metadata);

} // namespace sida::detail
