// SPDX-License-Identifier: MIT
#include "predictor/collected.h"

#include "device/device.h"
#include "io/tensor_io.h"

#include "sida/errors.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstdio>

namespace sida::detail {
namespace {

std::string shardName(int index) {
    char name[40];
    std::snprintf(name, sizeof name, "shard-%05d.safetensors", index);
    return name;
}

std::vector<std::filesystem::path> shardsIn(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> shards;
    if (!std::filesystem::is_directory(dir)) return shards;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("shard-", 0) == 0 && entry.path().extension() == ".safetensors")
            shards.push_back(entry.path());
    }
    std::sort(shards.begin(), shards.end());
    return shards;
}

std::string metadataOf(const SafetensorsFile& file, const std::string& key) {
    const auto& m = file.header().metadata;
    auto it = m.find(key);
    if (it == m.end())
        throw Error(file.path().string() + ": metadata '" + key + "' is missing (not made by sida collect?)");
    return it->second;
}

void writeShard(const std::filesystem::path& path, const TeacherData& t, const std::string& fingerprint,
                const std::vector<int64_t>& blocks, bool fullLogits) {
    SafetensorsWriter writer;
    std::vector<int64_t> ids;
    for (const auto& s : t.sequences) ids.insert(ids.end(), s.begin(), s.end());
    addTensor(writer, "ids", at::tensor(ids, at::kLong));
    addTensor(writer, "offsets", at::tensor(t.offsets, at::kLong));
    for (size_t l = 0; l < blocks.size(); ++l) {
        addTensor(writer, "top_values." + std::to_string(blocks[l]), t.topValues[l]);
        addTensor(writer, "top_indices." + std::to_string(blocks[l]), t.topIndices[l]);
    }
    writer.setMetadata("sida", "router-logits");
    writer.setMetadata("model_fingerprint", fingerprint);
    writer.setMetadata("top_t", std::to_string(t.topT));
    writer.setMetadata("full_logits", fullLogits ? "true" : "false");
    writer.setMetadata("sequences", std::to_string(t.sequences.size()));
    writer.write(path);
}

TeacherData readShard(const std::filesystem::path& path, const std::vector<int64_t>& blocks,
                      const std::string& fingerprint) {
    const SafetensorsFile file(path);
    if (metadataOf(file, "sida") != "router-logits")
        throw Error(path.string() + ": not a router-logits shard");
    if (metadataOf(file, "model_fingerprint") != fingerprint)
        throw Error(path.string() + ": collected from another model (its model_fingerprint differs)");
    auto tensor = [&](const std::string& name) {
        const TensorInfo* info = file.header().find(name);
        if (!info) throw Error(path.string() + ": tensor '" + name + "' is missing");
        return readStoredTensor({&file, info});
    };
    TeacherData t;
    t.topT = std::stoll(metadataOf(file, "top_t"));
    const at::Tensor ids = tensor("ids").to(at::kLong), offsets = tensor("offsets").to(at::kLong);
    const int64_t* o = offsets.data_ptr<int64_t>();
    const int64_t* id = ids.data_ptr<int64_t>();
    if (offsets.numel() < 1 || o[0] != 0 || o[offsets.numel() - 1] != ids.numel())
        throw Error(path.string() + ": offsets do not cover the ids");
    t.offsets.assign(o, o + offsets.numel());
    for (int64_t s = 0; s + 1 < offsets.numel(); ++s) {
        if (o[s + 1] < o[s]) throw Error(path.string() + ": offsets are not increasing");
        t.sequences.emplace_back(id + o[s], id + o[s + 1]);
    }
    for (int64_t block : blocks) {
        t.topValues.push_back(tensor("top_values." + std::to_string(block)).to(at::kFloat));
        t.topIndices.push_back(tensor("top_indices." + std::to_string(block)).to(at::kLong));
        if (t.topValues.back().size(0) != ids.numel() ||
            t.topIndices.back().sizes() != t.topValues.back().sizes())
            throw Error(path.string() + ": layer " + std::to_string(block) +
                        "'s logits do not match the ids");
    }
    return t;
}

void append(TeacherData& all, TeacherData part) {
    const int64_t base = all.rows();
    if (all.offsets.empty()) all.offsets = {0};
    for (size_t s = 0; s < part.sequences.size(); ++s) all.offsets.push_back(base + part.offsets[s + 1]);
    for (auto& s : part.sequences) all.sequences.push_back(std::move(s));
    if (all.topValues.empty()) {
        all.topValues = std::move(part.topValues);
        all.topIndices = std::move(part.topIndices);
        all.topT = part.topT;
        return;
    }
    for (size_t l = 0; l < all.topValues.size(); ++l) {
        all.topValues[l] = at::cat({all.topValues[l], part.topValues[l]});
        all.topIndices[l] = at::cat({all.topIndices[l], part.topIndices[l]});
    }
}

} // namespace

TeacherData readCollected(const std::filesystem::path& dir, const Model::Impl& model,
                          const std::string& fingerprint) {
    const auto shards = shardsIn(dir);
    if (shards.empty())
        throw Error("'" + dir.string() + "' holds no collected shards (run 'sida collect' first)");
    TeacherData all;
    for (const auto& shard : shards) append(all, readShard(shard, model.info.moeBlocks, fingerprint));
    return all;
}

} // namespace sida::detail

namespace sida {

CollectResult collectRouterLogits(const Model& model, const Dataset& data, const CollectOptions& options,
                                  const ProgressCallback& progress, const CancelToken& cancel) {
    if (options.sequencesPerShard < 1 || options.topT < 1 || options.batchSize < 1)
        throw Error("sequences per shard, T and batch size must be at least 1");
    const Model::Impl& m = model.impl();
    const std::string fingerprint = m.fingerprint();
    std::filesystem::create_directories(options.out);
    std::vector<std::vector<int64_t>> sequences;
    for (const Example& e : data.examples)
        sequences.push_back((e.pair ? m.tokenizer->encodePair(e.text, *e.pair, m.info.maxLength)
                                    : m.tokenizer->encode(e.text, m.info.maxLength))
                                .ids);
    CollectResult result;
    result.fullLogits = options.topT >= m.config().num_experts;
    const auto total = static_cast<int64_t>(sequences.size());
    for (int64_t first = 0; first < total; first += options.sequencesPerShard) {
        const int index = static_cast<int>(first / options.sequencesPerShard);
        const auto path = options.out / detail::shardName(index);
        const int64_t last = std::min(total, first + options.sequencesPerShard);
        // A shard is written whole (renamed into place), so one that exists is complete; it is
        // reused when it was collected from the same model over the same sequences.
        if (std::filesystem::exists(path)) {
            const detail::TeacherData existing = detail::readShard(path, m.info.moeBlocks, fingerprint);
            if (static_cast<int64_t>(existing.sequences.size()) == last - first &&
                std::equal(existing.sequences.begin(), existing.sequences.end(), sequences.begin() + first)) {
                ++result.shardsReused;
                ++result.shards;
                result.sequences += last - first;
                result.tokens += existing.rows();
                continue;
            }
        }
        const detail::TeacherData part = detail::runWithComputeThreads(m.options.threads, [&] {
            return detail::collectTeacher(
                m, {sequences.begin() + first, sequences.begin() + last}, options.topT, options.batchSize,
                [&](const Progress& p) {
                    if (progress)
                        progress({"collecting", first + p.done, total, "shard " + std::to_string(index)});
                },
                cancel);
        });
        detail::writeShard(path, part, fingerprint, m.info.moeBlocks, result.fullLogits);
        ++result.shards;
        result.sequences += last - first;
        result.tokens += part.rows();
    }
    // Shards numbered past these are left from an earlier collection of more sequences; training
    // reads every shard in the folder, so they must go (another model's are refused, as above).
    for (int index = result.shards; std::filesystem::exists(options.out / detail::shardName(index));
         ++index) {
        const auto stale = options.out / detail::shardName(index);
        (void)detail::readShard(stale, m.info.moeBlocks, fingerprint);
        std::filesystem::remove(stale);
    }
    return result;
}

} // namespace sida
