// SPDX-License-Identifier: MIT
#include "predictor_metadata.h"

#include "json_fields.h"

namespace sida::detail {
namespace {

// Far above any real value (12-48 encoder blocks), far below what a block index can overflow.
constexpr uint64_t kMaxMoeBlockIndex = 65535;
// Recipes and metrics nest 2-3 levels; a million levels overflow the stack when copied.
constexpr size_t kMaxRecordNesting = 64;

} // namespace

PredictorMetadata parsePredictorMetadata(const std::string& jsonText, const std::string& source) {
    const nlohmann::json document = parseJsonObject(jsonText, source);
    const JsonFields f(document, source);
    if (f.string("format", "") != kPredictorFormat)
        f.fail("format", std::string("must be '") + kPredictorFormat + "'");
    if (f.integer("version", 0) != kPredictorFormatVersion)
        f.fail("version",
               "is not " + std::to_string(kPredictorFormatVersion) + " (made by another SiDA version?)");
    PredictorMetadata m;
    m.dModel = f.positive("d_model", 0);
    m.vocabSize = f.positive("vocab_size", 0);
    m.numExperts = f.positive("num_experts", 0);
    m.modelFingerprint = f.string("model_fingerprint", "");
    if (m.modelFingerprint.size() != 64) f.fail("model_fingerprint", "must be a SHA-256 in hex");
    if (!f.has("moe_blocks") || !f.raw("moe_blocks").is_array() || f.raw("moe_blocks").empty())
        f.fail("moe_blocks", "must be a non-empty list of block indices");
    for (const auto& block : f.raw("moe_blocks")) {
        // Read as unsigned: get<int64_t>() would turn 2^64 - 1 into block -1.
        if (!block.is_number_unsigned() || block.get<uint64_t>() > kMaxMoeBlockIndex)
            f.fail("moe_blocks",
                   "must hold only block indices (0.." + std::to_string(kMaxMoeBlockIndex) + ")");
        m.moeBlocks.push_back(static_cast<int64_t>(block.get<uint64_t>()));
    }
    if (!f.has("architecture") || !f.raw("architecture").is_object())
        f.fail("architecture", "must be an object");
    const JsonFields a(f.raw("architecture"), source + " (architecture)");
    m.architecture.hidden = a.positive("hidden", 0);
    m.architecture.lstmLayers = a.positive("lstm_layers", 0);
    m.architecture.bidirectional = a.boolean("bidirectional", false);
    if (m.architecture.hidden > 65536 || m.architecture.lstmLayers > 16 || m.numExperts > 65536 ||
        m.dModel > 65536 || m.moeBlocks.size() > 1024)
        f.fail("architecture", "has absurd sizes");
    // Kept as JSON, and so copied and dumped (recursively, once per level) when the predictor is
    // saved or described: refused unless shallow.
    for (const char* key : {"recipe", "metrics"})
        if (f.has(key) && nestingDepth(f.raw(key), kMaxRecordNesting) > kMaxRecordNesting)
            f.fail(key, "is nested more than " + std::to_string(kMaxRecordNesting) + " levels deep");
    if (f.has("recipe")) m.recipe = f.raw("recipe");
    if (f.has("metrics")) m.metrics = f.raw("metrics");
    return m;
}

void checkPredictorFits(const PredictorMetadata& m, const SwitchConfig& c, const std::string& fingerprint,
                        const std::string& source) {
    auto mismatch = [&](const std::string& field, const std::string& theirs, const std::string& ours) {
        throw Error(
            source + ": field '" + field + "' is " + theirs + " but the model has " + ours +
            ": this predictor was trained for another model (retrain it with 'sida train-predictor')");
    };
    if (m.dModel != c.d_model) mismatch("d_model", std::to_string(m.dModel), std::to_string(c.d_model));
    if (m.vocabSize != c.vocab_size)
        mismatch("vocab_size", std::to_string(m.vocabSize), std::to_string(c.vocab_size));
    if (m.numExperts != c.num_experts)
        mismatch("num_experts", std::to_string(m.numExperts), std::to_string(c.num_experts));
    if (m.moeBlocks != c.sparseBlocks())
        mismatch("moe_blocks", "a different list", "MoE blocks at other positions");
    if (m.modelFingerprint != fingerprint)
        mismatch("model_fingerprint", m.modelFingerprint.substr(0, 12) + "...",
                 fingerprint.substr(0, 12) + "...");
}

std::string predictorMetadataToJson(const PredictorMetadata& m) {
    nlohmann::ordered_json j;
    j["format"] = kPredictorFormat;
    j["version"] = kPredictorFormatVersion;
    j["architecture"] = {{"hidden", m.architecture.hidden},
                         {"lstm_layers", m.architecture.lstmLayers},
                         {"bidirectional", m.architecture.bidirectional}};
    j["d_model"] = m.dModel;
    j["vocab_size"] = m.vocabSize;
    j["num_experts"] = m.numExperts;
    j["moe_blocks"] = m.moeBlocks;
    j["model_fingerprint"] = m.modelFingerprint;
    j["recipe"] = m.recipe;
    j["metrics"] = m.metrics;
    return j.dump(2) + "\n";
}

} // namespace sida::detail
