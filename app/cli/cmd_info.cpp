// SPDX-License-Identifier: MIT
// sida info: what a model folder holds.
#include "commands.h"

#include "sida/model.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace sida::cli {
namespace {

std::string join(const std::vector<int64_t>& values) {
    std::string text;
    for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + std::to_string(values[i]);
    return text;
}

std::string millions(int64_t count) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f M", static_cast<double>(count) / 1e6);
    return text;
}

nlohmann::json toJson(const ModelInfo& info) {
    nlohmann::json j;
    j["path"] = info.path.string();
    j["config"] = nlohmann::json::parse(switchConfigToJson(info.config));
    j["labels"] = info.labels;
    j["moe_blocks"] = info.moeBlocks;
    j["parameters"] = info.parameters;
    j["expert_parameters"] = info.expertParameters;
    j["expert_bytes"] = info.expertBytes;
    j["total_expert_bytes"] = info.totalExpertBytes;
    j["non_expert_bytes"] = info.nonExpertBytes;
    j["checkpoint_bytes"] = info.checkpointBytes;
    j["checkpoint_files"] = info.checkpointFiles;
    j["stored_dtypes"] = info.storedDTypes;
    j["compute_dtype"] = info.computeDType;
    j["device"] = info.device;
    j["tokenizer_pieces"] = info.tokenizerPieces;
    j["max_length"] = info.maxLength;
    return j;
}

void printHuman(const ModelInfo& info) {
    const SwitchConfig& c = info.config;
    std::string stored;
    for (const auto& [dtype, count] : info.storedDTypes)
        stored += (stored.empty() ? "" : ", ") + dtype + " x " + std::to_string(count);
    std::string labels;
    for (const auto& l : info.labels) labels += (labels.empty() ? "" : ", ") + l;
    std::cout << "model        " << info.path.string() << "\n"
              << "architecture Switch Transformers encoder, " << c.num_layers << " blocks, d_model "
              << c.d_model << ", " << c.num_heads << " heads x d_kv " << c.d_kv << ", d_ff " << c.d_ff << ", "
              << c.dense_act_fn << "\n"
              << "MoE layers   blocks " << join(info.moeBlocks) << ": " << c.num_experts
              << " experts each, top-1, capacity " << c.expert_capacity << " per sequence\n"
              << "parameters   " << millions(info.parameters) << " (experts "
              << millions(info.expertParameters) << ")\n"
              << "experts      " << humanBytes(info.expertBytes) << " each, "
              << humanBytes(info.totalExpertBytes) << " in all; other weights "
              << humanBytes(info.nonExpertBytes) << " (" << info.computeDType << ")\n"
              << "stored       " << humanBytes(static_cast<double>(info.checkpointBytes)) << " in "
              << info.checkpointFiles << " file(s): " << stored << "\n"
              << "tokenizer    " << info.tokenizerPieces << " SentencePiece pieces, max length "
              << info.maxLength << "\n"
              << "labels       " << (labels.empty() ? "(no classifier head)" : labels) << "\n"
              << "device       " << info.device << "\n";
}

} // namespace

int runInfo(const Arguments& arguments) {
    ArgParser parser("info", "[MODEL_DIR] [options]",
                     "Describe a Switch Transformers model folder: architecture, parameters, expert\n"
                     "count and bytes, stored dtypes. Without MODEL_DIR, the bundled demo model.");
    parser
        .positionals("MODEL_DIR",
                     "a Hugging Face model folder (config.json, model.safetensors, spiece.model)", 0, 1)
        .flag("--json", "print one JSON object instead of text");
    addLoadOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;
    const auto& positional = args->positionals();
    const auto dir = resolveModelDir(positional.empty() ? std::nullopt : std::optional(positional[0]));
    const auto model = loadModel(dir, loadOptionsFrom(*args));
    if (args->has("--json"))
        std::cout << toJson(model->info()).dump(2) << "\n";
    else
        printHuman(model->info());
    return 0;
}

} // namespace sida::cli
