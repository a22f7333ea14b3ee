// SPDX-License-Identifier: MIT
// predictor.json (detail::parsePredictorMetadata) on arbitrary text, then checkPredictorFits
// against a fixed model: the shape of the hf/e4-step2-fp32 fixture.
#include "fuzz_check.h"

#include "predictor_metadata.h"
#include "sida/errors.h"

#include <cstdint>
#include <string>

namespace {

sida::SwitchConfig fixtureConfig() {
    sida::SwitchConfig c;
    c.vocab_size = 1152;
    c.d_model = 32;
    c.d_kv = 8;
    c.d_ff = 48;
    c.num_layers = 4;
    c.num_heads = 4;
    c.num_experts = 4;
    c.num_sparse_encoder_layers = 2;
    c.encoder_sparse_step = 2;
    return c;
}

// The fingerprint the seed corpus names, so that inputs reach the end of checkPredictorFits.
const std::string kFingerprint(64, 'a');

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const sida::SwitchConfig config = fixtureConfig();
    const std::string text(reinterpret_cast<const char*>(data), size);
    sida::detail::PredictorMetadata metadata;
    try {
        metadata = sida::detail::parsePredictorMetadata(text, "fuzz/predictor.json");
    } catch (const sida::Error&) {
        return 0;
    }
    // The sizes the predictor network is built from (PredictorNet allocates from them).
    FUZZ_CHECK(metadata.dModel > 0 && metadata.vocabSize > 0 && metadata.numExperts > 0, "sizes positive");
    FUZZ_CHECK(metadata.architecture.hidden > 0 && metadata.architecture.lstmLayers > 0,
               "architecture positive");
    FUZZ_CHECK(!metadata.moeBlocks.empty(), "at least one MoE block");
    for (int64_t block : metadata.moeBlocks) FUZZ_CHECK(block >= 0, "block indices are non-negative");
    FUZZ_CHECK(metadata.modelFingerprint.size() == 64, "fingerprint is a SHA-256");

    // What training writes must be read back as it was.
    const auto reread =
        sida::detail::parsePredictorMetadata(sida::detail::predictorMetadataToJson(metadata), "rewritten");
    FUZZ_CHECK(reread.dModel == metadata.dModel && reread.vocabSize == metadata.vocabSize &&
                   reread.numExperts == metadata.numExperts && reread.moeBlocks == metadata.moeBlocks &&
                   reread.modelFingerprint == metadata.modelFingerprint &&
                   reread.architecture.hidden == metadata.architecture.hidden &&
                   reread.architecture.lstmLayers == metadata.architecture.lstmLayers &&
                   reread.architecture.bidirectional == metadata.architecture.bidirectional &&
                   reread.recipe == metadata.recipe && reread.metrics == metadata.metrics,
               "predictor.json round trip");

    try {
        sida::detail::checkPredictorFits(metadata, config, kFingerprint, "fuzz/predictor.json");
        FUZZ_CHECK(metadata.dModel == config.d_model && metadata.numExperts == config.num_experts &&
                       metadata.vocabSize == config.vocab_size &&
                       metadata.moeBlocks == config.sparseBlocks() &&
                       metadata.modelFingerprint == kFingerprint,
                   "a predictor that fits matches the model");
    } catch (const sida::Error&) {}
    return 0;
}
