// SPDX-License-Identifier: MIT
// Loading and saving Switch weights in Hugging Face's layout.
#include "device/device.h"
#include "io/tensor_io.h"
#include "model/model_impl.h"

#include "sida/errors.h"

#include <set>

namespace sida::detail {
namespace {

const char* kEmbedFallback = "encoder.embed_tokens.weight";

// Gated feed-forward checkpoints (switch-xxl) store wi_0/wi_1, which Hugging Face never ran.
void refuseGatedExperts(const Checkpoint& checkpoint) {
    for (const std::string& name : checkpoint.tensorNames())
        if (name.find(".wi_0.") != std::string::npos || name.find(".wi_1.") != std::string::npos)
            throw Error(checkpoint.describedBy().string() + ": tensor '" + name +
                        "' belongs to a gated feed-forward (GEGLU) model, which SiDA does not run");
}

int64_t classifierLabels(const SwitchConfig& config, const Checkpoint& checkpoint) {
    if (!checkpoint.contains("classifier.out_proj.weight")) return 0;
    const auto location = checkpoint.locate("classifier.out_proj.weight");
    const auto& shape = location.info->shape;
    if (shape.size() != 2 || shape[0] < 1)
        throw Error(location.file->path().string() +
                    ": tensor 'classifier.out_proj.weight' must have shape [labels, d_model]");
    if (!config.id2label.empty() && static_cast<int64_t>(config.id2label.size()) != shape[0])
        throw Error(location.file->path().string() + ": the classifier head has " + std::to_string(shape[0]) +
                    " outputs but config.json's id2label names " + std::to_string(config.id2label.size()) +
                    " labels");
    return shape[0];
}

// Every parameter config.json implies is stored in at least 2 bytes (F16/BF16). A config that
// claims more (num_experts 10^8 over a 4-expert checkpoint) is refused here, before millions of
// expert slots are built only to find the first tensor missing.
void refuseConfigLargerThanCheckpoint(const SwitchConfig& config, const Checkpoint& checkpoint) {
    const int64_t parameters = expectedParameterCount(config, 0);
    const uint64_t stored = checkpoint.totalBytes();
    if (static_cast<uint64_t>(parameters) <= stored / 2) return;
    throw Error(checkpoint.describedBy().string() + " holds " + std::to_string(stored) +
                " bytes of tensors, too few for the " + std::to_string(parameters) +
                " parameters config.json describes (d_model " + std::to_string(config.d_model) + ", d_ff " +
                std::to_string(config.d_ff) + ", " + std::to_string(config.num_experts) + " experts, " +
                std::to_string(config.num_layers) + " layers)");
}

TensorLocation locateSlot(const Checkpoint& checkpoint, const TensorSlot& slot) {
    if (slot.name == "shared.weight" && !checkpoint.contains(slot.name) &&
        checkpoint.contains(kEmbedFallback))
        return checkpoint.locate(kEmbedFallback);
    return checkpoint.locate(slot.name);
}

void checkShape(const TensorSlot& slot, const TensorLocation& location) {
    if (location.info->shape != slot.shape)
        throw Error(location.file->path().string() + ": tensor '" + location.info->name + "' has shape " +
                    shapeText(location.info->shape) + " but config.json implies " + shapeText(slot.shape));
}

} // namespace

at::ScalarType parseComputeDType(const std::string& name) {
    if (name == "float32" || name == "fp32") return at::kFloat;
    if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
    if (name == "float16" || name == "fp16")
        throw Error("compute dtype 'float16' is refused: T5-family feed-forward outputs overflow "
                    "float16's range (65504); use float32 or bfloat16");
    throw Error("compute dtype '" + name + "' is unknown (use float32 or bfloat16)");
}

int64_t loadSwitchWeights(const SwitchConfig& config, const Checkpoint& checkpoint, at::ScalarType dtype,
                          at::Device device, SwitchWeights& weights, const ProgressCallback& progress,
                          const CancelToken& cancel, bool includeExperts) {
    refuseGatedExperts(checkpoint);
    refuseConfigLargerThanCheckpoint(config, checkpoint);
    const int64_t numLabels = classifierLabels(config, checkpoint);
    resizeWeights(config, weights);
    const std::vector<TensorSlot> slots = tensorSlots(config, numLabels, weights);

    // Every name and shape is checked before a single byte is read.
    std::vector<TensorLocation> locations;
    for (const TensorSlot& slot : slots) {
        locations.push_back(locateSlot(checkpoint, slot));
        checkShape(slot, locations.back());
    }
    for (size_t i = 0; i < slots.size(); ++i) {
        cancel.throwIfCancelled();
        if (slots[i].isExpert && !includeExperts) continue;
        const TensorLocation& location = locations[i];
        at::Tensor tensor = readTensor(location, slots[i].isRouter ? at::kFloat : dtype);
        checkFinite(tensor, location.info->name, location.file->path().string());
        *slots[i].tensor = tensor.to(device);
        if (progress)
            progress({"loading weights", static_cast<int64_t>(i + 1), static_cast<int64_t>(slots.size()),
                      location.info->name});
    }
    return numLabels;
}

void saveSwitchWeights(const SwitchConfig& config, const SwitchWeights& weights, at::ScalarType storage,
                       const std::filesystem::path& file) {
    SafetensorsWriter writer;
    for (const ConstTensorSlot& slot : tensorSlots(config, headLabels(weights), weights))
        addTensor(writer, slot.name, slot.isRouter ? *slot.tensor : slot.tensor->to(storage));
    writer.write(file);
}

void describeModel(ModelInfo& info, const SwitchWeights& weights, const Checkpoint* checkpoint,
                   at::ScalarType dtype, at::Device device) {
    const SwitchConfig& c = info.config;
    const int64_t elementSize = at::elementSize(dtype);
    info.moeBlocks = c.sparseBlocks();
    const int64_t experts = c.num_experts * static_cast<int64_t>(info.moeBlocks.size());
    info.expertParameters = experts * 2 * c.d_model * c.d_ff;
    info.parameters = info.expertParameters;
    info.nonExpertBytes = 0;
    for (const ConstTensorSlot& slot : tensorSlots(c, headLabels(weights), weights)) {
        if (slot.isExpert || !slot.tensor->defined()) continue;
        info.parameters += slot.tensor->numel();
        info.nonExpertBytes += slot.tensor->numel() * slot.tensor->element_size();
    }
    info.expertBytes = 2 * c.d_model * c.d_ff * elementSize;
    info.totalExpertBytes = info.expertBytes * experts;
    info.computeDType = dtype == at::kBFloat16 ? "bfloat16" : "float32";
    info.device = device.str();
    if (checkpoint) {
        info.checkpointBytes = checkpoint->totalBytes();
        std::set<const SafetensorsFile*> files;
        info.storedDTypes.clear();
        for (const std::string& name : checkpoint->tensorNames()) {
            const auto location = checkpoint->locate(name);
            files.insert(location.file);
            ++info.storedDTypes[dtypeName(location.info->dtype)];
        }
        info.checkpointFiles = static_cast<int>(files.size());
    }
}

} // namespace sida::detail
