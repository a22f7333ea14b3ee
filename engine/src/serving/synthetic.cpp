// SPDX-License-Identifier: MIT
// Synthetic switch-base-N / switch-large-N checkpoints whose routers route by token.
//
// How the routing is made: every MoE layer has a seeded token table (token id -> expert) and one
// near-orthogonal unit code vector per expert. A token's embedding is the sum of the codes of its
// experts in every layer plus noise, and each router's rows are that layer's codes, so a router
// reading the bare embedding picks the table's expert. What attention and the feed-forward layers
// add to the residual stream is scaled by the `context` knob: it is what lets the context
// override the table.
#include "model/model_impl.h"
#include "model/switch_weights.h"
#include "predictor/collected.h"
#include "predictor/distillation.h"
#include "serving/expert_store.h"

#include "sida/errors.h"
#include "sida/predictor.h"
#include "sida/synthetic.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <numbers>

namespace sida {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kShardBytes = 1ull << 30;

uint64_t fnv1a64(std::string_view text) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
    return hash;
}

// splitmix64's output function: a bijective mix of all 64 bits.
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

bool endsWith(const std::string& text, std::string_view suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

SwitchConfig configOf(const SyntheticShape& s) {
    SwitchConfig c;
    c.vocab_size = s.vocabSize;
    c.d_model = s.dModel;
    c.d_kv = s.dKv;
    c.d_ff = s.dFf;
    c.num_layers = s.blocks;
    c.num_heads = s.heads;
    c.num_experts = s.experts;
    c.num_sparse_encoder_layers = s.blocks / 2;
    c.encoder_sparse_step = 2;
    c.torch_dtype = "bfloat16";
    c.id2label = {"negative", "positive"};
    return c;
}

std::string formatContext(double context) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", context);
    return text;
}

nlohmann::json optionsJson(const SyntheticOptions& o) {
    const SyntheticShape& s = o.shape;
    return {{"generator_version", kSyntheticGeneratorVersion},
            {"name", s.name},
            {"vocab_size", s.vocabSize},
            {"d_model", s.dModel},
            {"d_ff", s.dFf},
            {"num_heads", s.heads},
            {"d_kv", s.dKv},
            {"num_layers", s.blocks},
            {"num_experts", s.experts},
            {"context", formatContext(o.context)},
            {"seed", o.seed}};
}

// The unit code vectors of one MoE layer's experts, [E][d] row-major. Random directions in d
// dimensions are nearly orthogonal (cosines of about 1/sqrt(d)), which keeps layers and experts
// from reading each other's codes.
std::vector<float> layerCodes(const SyntheticOptions& o, int64_t layer) {
    const int64_t d = o.shape.dModel, experts = o.shape.experts;
    SyntheticRandom random(o.seed, "codes." + std::to_string(layer));
    std::vector<float> codes(static_cast<size_t>(experts * d));
    std::vector<double> row(static_cast<size_t>(d));
    for (int64_t e = 0; e < experts; ++e) {
        double norm = 0;
        for (double& v : row) {
            v = random.normal();
            norm += v * v;
        }
        norm = std::sqrt(norm);
        for (int64_t j = 0; j < d; ++j)
            codes[static_cast<size_t>(e * d + j)] = static_cast<float>(row[j] / norm);
    }
    return codes;
}

// What the generator needs besides the shapes: the codes and the embedding's mix.
struct Generator {
    const SyntheticOptions& options;
    SwitchConfig config;
    std::vector<int64_t> moeBlocks;
    std::vector<std::vector<float>> codes; ///< per MoE layer
    double codeAmplitude = 0;              ///< length of each code in an embedding
    double noiseStd = 0;                   ///< per component, on top of the codes
};

Generator makeGenerator(const SyntheticOptions& o) {
    Generator g{o, configOf(o.shape), {}, {}, 0, 0};
    g.moeBlocks = g.config.sparseBlocks();
    for (size_t l = 0; l < g.moeBlocks.size(); ++l) g.codes.push_back(layerCodes(o, static_cast<int64_t>(l)));
    // Half of an embedding's energy in its codes, half in noise, at Hugging Face's scale (standard
    // deviation 1 per component): codes of length sqrt(d / 2L) stand far above the noise's
    // projection on any code (standard deviation 1/sqrt(2)).
    const double layers = static_cast<double>(std::max<size_t>(1, g.moeBlocks.size()));
    g.codeAmplitude = std::sqrt(0.5 * static_cast<double>(o.shape.dModel) / layers);
    g.noiseStd = std::sqrt(0.5);
    return g;
}

// The standard deviation of a Gaussian tensor (Hugging Face's init scales), with the outputs that
// add to the residual stream scaled by the context knob; 0 for biases.
double gaussianStd(const std::string& name, const Generator& g) {
    const SwitchConfig& c = g.config;
    const double d = static_cast<double>(c.d_model), k = g.options.context;
    if (endsWith(name, "relative_attention_bias.weight")) return std::pow(d, -0.5);
    if (endsWith(name, "SelfAttention.q.weight")) return std::pow(d * static_cast<double>(c.d_kv), -0.5);
    if (endsWith(name, "SelfAttention.k.weight") || endsWith(name, "SelfAttention.v.weight"))
        return std::pow(d, -0.5);
    if (endsWith(name, "SelfAttention.o.weight"))
        return k * std::pow(static_cast<double>(c.innerDim()), -0.5);
    if (endsWith(name, "wi.weight")) return std::pow(d, -0.5);
    if (endsWith(name, "wo.weight")) return k * std::pow(static_cast<double>(c.d_ff), -0.5);
    if (name == "classifier.dense.weight" || name == "classifier.out_proj.weight") return std::pow(d, -0.5);
    return 0.0;
}

int64_t moeLayerOfRouter(const std::string& name, const Generator& g) {
    for (size_t l = 0; l < g.moeBlocks.size(); ++l)
        if (name.rfind("encoder.block." + std::to_string(g.moeBlocks[l]) + ".", 0) == 0)
            return static_cast<int64_t>(l);
    throw Error("internal error: router '" + name + "' is in no MoE block");
}

// Streams one tensor's values, row by row, to `emit`.
template <class Emit>
void generateTensor(const detail::TensorSlot& slot, const Generator& g, Emit&& emit) {
    const int64_t columns = slot.shape.back();
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < slot.shape.size(); ++i) rows *= slot.shape[i];
    std::vector<float> row(static_cast<size_t>(columns));
    SyntheticRandom random(g.options.seed, slot.name);
    if (slot.name == "shared.weight") {
        for (int64_t t = 0; t < rows; ++t) {
            std::vector<double> value(static_cast<size_t>(columns));
            for (double& v : value) v = g.noiseStd * random.normal();
            for (size_t l = 0; l < g.codes.size(); ++l) {
                const int64_t expert = syntheticTokenExpert(g.options, static_cast<int64_t>(l), t);
                const float* code = g.codes[l].data() + expert * columns;
                for (int64_t j = 0; j < columns; ++j) value[j] += g.codeAmplitude * code[j];
            }
            for (int64_t j = 0; j < columns; ++j) row[j] = static_cast<float>(value[j]);
            emit(row);
        }
        return;
    }
    if (slot.isRouter) {
        // Rows are the codes themselves: the logit of expert e is the normalised hidden state's
        // projection on e's code.
        const std::vector<float>& codes = g.codes[static_cast<size_t>(moeLayerOfRouter(slot.name, g))];
        for (int64_t e = 0; e < rows; ++e) {
            std::copy_n(codes.data() + e * columns, columns, row.begin());
            emit(row);
        }
        return;
    }
    const bool norm = endsWith(slot.name, "layer_norm.weight");
    const double std = norm ? 0.0 : gaussianStd(slot.name, g);
    for (int64_t r = 0; r < rows; ++r) {
        for (float& v : row) v = norm ? 1.0f : std > 0 ? static_cast<float>(std * random.normal()) : 0.0f;
        emit(row);
    }
}

uint64_t slotBytes(const detail::TensorSlot& slot) {
    uint64_t n = slot.isRouter ? 4 : 2;
    for (int64_t s : slot.shape) n *= static_cast<uint64_t>(s);
    return n;
}

// One safetensors shard written as it is generated: the header first (every offset follows from
// the shapes), then each tensor's bytes, so that no tensor is ever held whole in memory.
void writeShard(const std::filesystem::path& path, const std::vector<const detail::TensorSlot*>& slots,
                const Generator& g, const std::function<void(const detail::TensorSlot&)>& done,
                const CancelToken& cancel) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    header["__metadata__"] = {{"format", "pt"}};
    uint64_t offset = 0;
    for (const detail::TensorSlot* s : slots) {
        const uint64_t bytes = slotBytes(*s);
        header[s->name] = {{"dtype", s->isRouter ? "F32" : "BF16"},
                           {"shape", s->shape},
                           {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    const auto partial = std::filesystem::path(path.string() + ".partial");
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write '" + partial.string() + "'");
    std::array<char, 8> length{};
    for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
    out.write(length.data(), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    std::vector<unsigned char> buffer;
    for (const detail::TensorSlot* s : slots) {
        cancel.throwIfCancelled();
        generateTensor(*s, g, [&](const std::vector<float>& row) {
            for (float v : row) {
                if (s->isRouter) {
                    uint32_t bits;
                    std::memcpy(&bits, &v, 4);
                    for (int i = 0; i < 4; ++i) buffer.push_back(static_cast<unsigned char>(bits >> (8 * i)));
                } else {
                    const uint16_t bits = toBfloat16(v);
                    buffer.push_back(static_cast<unsigned char>(bits & 0xff));
                    buffer.push_back(static_cast<unsigned char>(bits >> 8));
                }
            }
            if (buffer.size() >= (1u << 20)) {
                out.write(reinterpret_cast<const char*>(buffer.data()),
                          static_cast<std::streamsize>(buffer.size()));
                buffer.clear();
            }
        });
        done(*s);
    }
    out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
    out.close();
    if (!out) throw Error("writing '" + partial.string() + "' failed (disk full?)");
    std::filesystem::rename(partial, path);
}

// Slots grouped into shards of about kShardBytes, float32 routers first in each shard so that
// every tensor's offset is a multiple of its element size.
std::vector<std::vector<const detail::TensorSlot*>> planShards(const std::vector<detail::TensorSlot>& slots) {
    std::vector<std::vector<const detail::TensorSlot*>> shards(1);
    uint64_t bytes = 0;
    for (const detail::TensorSlot& s : slots) {
        if (bytes >= kShardBytes) {
            shards.emplace_back();
            bytes = 0;
        }
        shards.back().push_back(&s);
        bytes += slotBytes(s);
    }
    for (auto& shard : shards)
        std::stable_partition(shard.begin(), shard.end(),
                              [](const detail::TensorSlot* s) { return s->isRouter; });
    return shards;
}

nlohmann::json readJsonFile(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw Error("cannot read '" + path.string() + "'");
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error("'" + path.string() + "' is not valid JSON: " + e.what());
    }
}

void writeJsonFile(const std::filesystem::path& path, const nlohmann::json& json) {
    const auto partial = std::filesystem::path(path.string() + ".partial");
    {
        std::ofstream out(partial);
        out << json.dump(2) << "\n";
        if (!out) throw Error("cannot write '" + partial.string() + "'");
    }
    std::filesystem::rename(partial, path);
}

// True when `dir` already holds a complete checkpoint made with `options`; throws when it holds
// one made with other options (a cache folder is named after its options, so that means the
// folder was edited or its name reused by hand).
bool completeFor(const SyntheticOptions& options, const std::filesystem::path& dir) {
    const auto record = dir / "synthetic.json";
    if (!std::filesystem::exists(dir / "model.safetensors.index.json") || !std::filesystem::exists(record))
        return false;
    if (readJsonFile(record).value("options", nlohmann::json()) != optionsJson(options))
        throw Error("'" + dir.string() + "' holds a synthetic model made with other options (see its " +
                    "synthetic.json); delete the folder or choose another one");
    return true;
}

} // namespace

SyntheticRandom::SyntheticRandom(uint64_t seed, std::string_view stream)
    : state_(mix64(seed ^ fnv1a64(stream))) {}

uint64_t SyntheticRandom::nextU64() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    return mix64(z);
}

double SyntheticRandom::uniform() { return (static_cast<double>(nextU64() >> 11) + 0.5) * 0x1.0p-53; }

double SyntheticRandom::normal() {
    if (hasSpare_) {
        hasSpare_ = false;
        return spare_;
    }
    // Box-Muller in double precision. libm's log/sin/cos may differ between C libraries in the
    // last bit of a double; the weights are stored in bf16 (8 significant bits), so such a
    // difference would change a stored value only in the rare case of a tie at the rounding edge.
    const double radius = std::sqrt(-2.0 * std::log(uniform()));
    const double angle = 2.0 * std::numbers::pi * uniform();
    spare_ = radius * std::sin(angle);
    hasSpare_ = true;
    return radius * std::cos(angle);
}

uint16_t toBfloat16(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    if (std::isnan(value)) return static_cast<uint16_t>((bits >> 16) | 0x40);
    const uint32_t roundingBias = 0x7fff + ((bits >> 16) & 1);
    return static_cast<uint16_t>((bits + roundingBias) >> 16);
}

SyntheticShape syntheticShape(const std::string& name) {
    struct Family {
        const char* prefix;
        int64_t dModel, dFf, heads, blocks;
    };
    static constexpr std::array<Family, 2> families{
        {{"switch-base-", 768, 3072, 12, 12}, {"switch-large-", 1024, 4096, 16, 24}}};
    for (const Family& f : families) {
        const std::string prefix = f.prefix;
        if (name.rfind(prefix, 0) != 0) continue;
        const std::string count = name.substr(prefix.size());
        const bool digits =
            !count.empty() && count.size() <= 4 &&
            std::all_of(count.begin(), count.end(), [](char c) { return c >= '0' && c <= '9'; });
        const int64_t experts = digits ? std::stoll(count) : 0;
        if (experts < 1 || experts > 4096)
            throw Error("synthetic model '" + name + "': the expert count after '" + prefix +
                        "' must be a number in 1..4096");
        SyntheticShape s;
        s.name = name;
        s.dModel = f.dModel;
        s.dFf = f.dFf;
        s.heads = f.heads;
        s.dKv = 64;
        s.blocks = f.blocks;
        s.experts = experts;
        return s;
    }
    throw Error("synthetic model '" + name + "': use switch-base-N or switch-large-N (N experts, 1..4096)");
}

void validateSyntheticOptions(const SyntheticOptions& o) {
    const SyntheticShape& s = o.shape;
    auto require = [&](bool ok, const std::string& what) {
        if (!ok) throw Error("synthetic model '" + s.name + "': " + what);
    };
    require(!s.name.empty() && s.name.find('/') == std::string::npos &&
                s.name.find("..") == std::string::npos,
            "the name must be non-empty and hold no '/' or '..'");
    require(s.vocabSize >= 8 && s.vocabSize <= 1'000'000, "vocab size must be in 8..1000000");
    require(s.dModel >= 2 && s.dModel <= 16384 && s.dModel % 2 == 0, "d_model must be even, in 2..16384");
    require(s.dFf >= 2 && s.dFf <= 65536 && s.dFf % 2 == 0, "d_ff must be even, in 2..65536");
    require(s.heads >= 1 && s.heads <= 256, "heads must be in 1..256");
    require(s.dKv >= 2 && s.dKv <= 1024 && s.dKv % 2 == 0, "d_kv must be even, in 2..1024");
    require(s.blocks >= 2 && s.blocks <= 128, "blocks must be in 2..128 (MoE at every other block)");
    require(s.experts >= 1 && s.experts <= 4096, "experts must be in 1..4096");
    require(std::isfinite(o.context) && o.context >= 0 && o.context <= 4, "context must be in 0..4");
}

std::string syntheticCacheKey(const SyntheticOptions& o) {
    validateSyntheticOptions(o);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%08llx",
                  static_cast<unsigned long long>(mix64(fnv1a64(optionsJson(o).dump())) & 0xffffffffull));
    return o.shape.name + "-gen" + std::to_string(kSyntheticGeneratorVersion) + "-context" +
           formatContext(o.context) + "-" + hash;
}

int64_t syntheticTokenExpert(const SyntheticOptions& o, int64_t layer, int64_t token) {
    const uint64_t key =
        mix64(o.seed ^ fnv1a64("token-table")) + static_cast<uint64_t>(layer) * 0x9e3779b97f4a7c15ull;
    return static_cast<int64_t>(mix64(key ^ mix64(static_cast<uint64_t>(token))) %
                                static_cast<uint64_t>(o.shape.experts));
}

void writeSyntheticSwitch(const SyntheticOptions& options, const std::filesystem::path& dir,
                          const std::filesystem::path& spiece, const ProgressCallback& progress,
                          const CancelToken& cancel) {
    validateSyntheticOptions(options);
    if (completeFor(options, dir)) return;
    if (!std::filesystem::is_regular_file(spiece))
        throw Error("tokenizer '" + spiece.string() + "' for the synthetic model does not exist");
    const Generator g = makeGenerator(options);
    std::filesystem::create_directories(dir);
    std::filesystem::remove(dir / "model.safetensors.index.json"); // incomplete until written again

    detail::SwitchWeights shapesOnly;
    detail::resizeWeights(g.config, shapesOnly);
    const std::vector<detail::TensorSlot> slots = detail::tensorSlots(g.config, 2, shapesOnly);
    const auto shards = planShards(slots);
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
    uint64_t total = 0;
    int64_t written = 0;
    const std::string stage = "writing synthetic " + options.shape.name;
    for (size_t i = 0; i < shards.size(); ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
        writeShard(
            dir / name, shards[i], g,
            [&](const detail::TensorSlot& s) {
                index["weight_map"][s.name] = name;
                total += slotBytes(s);
                if (progress) progress({stage, ++written, static_cast<int64_t>(slots.size()), s.name});
            },
            cancel);
    }
    index["metadata"]["total_size"] = total;
    {
        std::ofstream config(dir / "config.json");
        config << switchConfigToJson(g.config);
        if (!config) throw Error("cannot write '" + (dir / "config.json").string() + "'");
    }
    std::filesystem::copy_file(spiece, dir / "spiece.model",
                               std::filesystem::copy_options::overwrite_existing);
    writeJsonFile(dir / "synthetic.json", {{"options", optionsJson(options)}});
    // The index goes last: its presence marks a complete folder.
    writeJsonFile(dir / "model.safetensors.index.json", index);
}

double RoutingPurity::meanPurity() const {
    double sum = 0;
    for (double p : purity) sum += p;
    return purity.empty() ? 0.0 : sum / static_cast<double>(purity.size());
}

double RoutingPurity::meanTableAgreement() const {
    if (tableAgreement.empty()) return -1.0;
    double sum = 0;
    for (double a : tableAgreement) sum += a;
    return sum / static_cast<double>(tableAgreement.size());
}

namespace {

// Purity of one layer: per token id, the count of its most frequent expert, summed, over all
// tokens.
double layerPurity(const std::vector<int64_t>& tokens, const int64_t* experts, int64_t numExperts) {
    std::vector<int64_t> keys(tokens.size());
    for (size_t r = 0; r < tokens.size(); ++r) keys[r] = tokens[r] * numExperts + experts[r];
    std::sort(keys.begin(), keys.end());
    int64_t pure = 0;
    for (size_t i = 0; i < keys.size();) {
        const int64_t token = keys[i] / numExperts;
        int64_t best = 0;
        while (i < keys.size() && keys[i] / numExperts == token) {
            size_t j = i;
            while (j < keys.size() && keys[j] == keys[i]) ++j;
            best = std::max<int64_t>(best, static_cast<int64_t>(j - i));
            i = j;
        }
        pure += best;
    }
    return tokens.empty() ? 0.0 : static_cast<double>(pure) / static_cast<double>(tokens.size());
}

RoutingPurity purityOf(const detail::TeacherData& teacher, const std::vector<int64_t>& blocks,
                       int64_t numExperts, const SyntheticOptions* options) {
    RoutingPurity result;
    result.blocks = blocks;
    std::vector<int64_t> tokens;
    for (const auto& s : teacher.sequences) tokens.insert(tokens.end(), s.begin(), s.end());
    result.tokens = static_cast<int64_t>(tokens.size());
    if (teacher.rows() != result.tokens) throw Error("internal error: router rows do not match the tokens");
    for (size_t l = 0; l < teacher.topIndices.size(); ++l) {
        const at::Tensor top1 = teacher.topIndices[l].select(1, 0).contiguous();
        const int64_t* experts = top1.data_ptr<int64_t>();
        result.purity.push_back(layerPurity(tokens, experts, numExperts));
        if (!options) continue;
        int64_t agree = 0;
        for (size_t r = 0; r < tokens.size(); ++r)
            agree += experts[r] == syntheticTokenExpert(*options, static_cast<int64_t>(l), tokens[r]);
        result.tableAgreement.push_back(
            tokens.empty() ? 0.0 : static_cast<double>(agree) / static_cast<double>(tokens.size()));
    }
    return result;
}

nlohmann::json routingJson(const RoutingPurity& r) {
    return {{"tokens", r.tokens},
            {"blocks", r.blocks},
            {"token_purity", r.purity},
            {"table_agreement", r.tableAgreement},
            {"mean_token_purity", r.meanPurity()},
            {"mean_table_agreement", r.meanTableAgreement()}};
}

RoutingPurity routingFromJson(const nlohmann::json& j) {
    RoutingPurity r;
    r.tokens = j.value("tokens", int64_t{0});
    r.blocks = j.value("blocks", std::vector<int64_t>{});
    r.purity = j.value("token_purity", std::vector<double>{});
    r.tableAgreement = j.value("table_agreement", std::vector<double>{});
    return r;
}

// The first sentences of the training file, split into those whose routes teach the predictor
// and the held-out ones that pick its best epoch. Each part is sorted by length, so that the
// routers' batches carry little padding.
std::pair<Dataset, Dataset> splitSentences(const SyntheticPredictorOptions& p) {
    DatasetOptions read;
    read.requireLabels = false;
    read.limit = p.sentences + p.devSentences;
    Dataset train = readDataset(p.trainData, read);
    if (static_cast<int64_t>(train.examples.size()) < p.sentences + p.devSentences)
        throw Error("'" + p.trainData.string() + "' has " + std::to_string(train.examples.size()) +
                    " usable sentences; the synthetic predictor needs " +
                    std::to_string(p.sentences + p.devSentences));
    Dataset dev = train;
    dev.examples.erase(dev.examples.begin(), dev.examples.begin() + p.sentences);
    train.examples.resize(static_cast<size_t>(p.sentences));
    for (Dataset* d : {&train, &dev})
        std::stable_sort(d->examples.begin(), d->examples.end(),
                         [](const Example& x, const Example& y) { return x.text.size() < y.text.size(); });
    return {std::move(train), std::move(dev)};
}

// Runs the routers over both parts into `routes`/train and `routes`/dev, in the options' dtype,
// with the expert pool bounded to two MoE layers' experts (evicting the least recently used), so
// that a float32 pass over a large model does not hold a float32 copy of every expert.
void collectRoutes(const std::filesystem::path& dir, const SyntheticPredictorOptions& p,
                   const std::filesystem::path& routes, const ProgressCallback& progress,
                   const CancelToken& cancel) {
    const auto [train, dev] = splitSentences(p);
    LoadOptions load;
    load.device = p.device;
    load.dtype = p.dtype;
    load.threads = p.threads;
    load.noDrop = true;
    load.maxLength = 128;
    load.loadPredictor = false;
    const auto model = Model::load(dir, load, progress, cancel);
    Model::Impl& m = model->impl();
    {
        const auto lock = m.experts->lock();
        m.experts->setCapacity(2 * m.config().num_experts, Eviction::Lru);
    }
    CollectOptions collect;
    collect.out = routes / "train";
    collectRouterLogits(*model, train, collect, progress, cancel);
    collect.out = routes / "dev";
    collectRouterLogits(*model, dev, collect, progress, cancel);
}

// The model loaded for its embedding only (bf16 storage, no router runs): the predictor's
// training reads every route from the collection.
std::shared_ptr<Model> loadForEmbedding(const std::filesystem::path& dir, const SyntheticPredictorOptions& p,
                                        const ProgressCallback& progress, const CancelToken& cancel) {
    LoadOptions load;
    load.device = p.device;
    load.dtype = "bfloat16";
    load.threads = p.threads;
    load.maxLength = 128;
    load.loadPredictor = false;
    return Model::load(dir, load, progress, cancel);
}

} // namespace

RoutingPurity measureRoutingPurity(const Model& model, const std::vector<std::string>& texts,
                                   const SyntheticOptions* options, const ProgressCallback& progress,
                                   const CancelToken& cancel) {
    const Model::Impl& m = model.impl();
    std::vector<std::vector<int64_t>> sequences;
    for (const std::string& text : texts)
        sequences.push_back(m.tokenizer->encode(text, m.options.maxLength).ids);
    const detail::TeacherData teacher =
        detail::collectTeacher(m, std::move(sequences), 1, 64, progress, cancel);
    return purityOf(teacher, m.info.moeBlocks, m.config().num_experts, options);
}

SyntheticPredictorResult ensureSyntheticPredictor(const std::filesystem::path& dir,
                                                  const SyntheticOptions& options,
                                                  const SyntheticPredictorOptions& p,
                                                  const ProgressCallback& progress,
                                                  const CancelToken& cancel) {
    if (!completeFor(options, dir))
        throw Error("'" + dir.string() + "' holds no complete synthetic model to train a predictor for");
    if (p.sentences < 64 || p.devSentences < 16)
        throw Error("the synthetic predictor needs at least 64 training and 16 held-out sentences");
    const auto record = dir / "synthetic.json";
    nlohmann::json json = readJsonFile(record);
    SyntheticPredictorResult result;
    if (std::filesystem::exists(dir / "predictor.json") && json.contains("predictor")) {
        result.reused = true;
        result.routing = routingFromJson(json.value("routing", nlohmann::json::object()));
        result.devTop1 = json["predictor"].value("dev_top1_hit_rate", 0.0);
        result.devTop3 = json["predictor"].value("dev_top3_hit_rate", 0.0);
        result.seconds = json["predictor"].value("seconds", 0.0);
        return result;
    }
    const auto start = Clock::now();
    const auto routes = dir / "routes.partial";
    // Routes of an earlier, interrupted run are reused only when made from the same sentences.
    const nlohmann::json routesKey = {{"train_data", std::filesystem::absolute(p.trainData).string()},
                                      {"sentences", p.sentences},
                                      {"held_out_sentences", p.devSentences},
                                      {"dtype", p.dtype}};
    const auto routesRecord = routes / "routes.json";
    if (!std::filesystem::exists(routesRecord) || readJsonFile(routesRecord) != routesKey) {
        std::filesystem::remove_all(routes);
        collectRoutes(dir, p, routes, progress, cancel);
        writeJsonFile(routesRecord, routesKey);
    }
    {
        const auto model = loadForEmbedding(dir, p, progress, cancel);
        const Model::Impl& m = model->impl();
        const detail::TeacherData teacher = detail::readCollected(routes / "train", m, m.fingerprint());
        result.routing = purityOf(teacher, m.info.moeBlocks, m.config().num_experts, &options);
    }

    PredictorTrainOptions t;
    t.modelDir = dir;
    t.collected = routes / "train";
    t.devCollected = routes / "dev";
    t.epochs = p.epochs;
    t.maxLength = 128;
    t.threads = p.threads;
    t.device = p.device;
    t.dtype = "bfloat16"; // only the embedding is used: every route comes from the collection
    t.command = "synthetic predictor for " + options.shape.name;
    const PredictorTrainResult trained = trainPredictor(t, {}, progress, cancel);
    if (trained.interrupted) throw Cancelled();
    for (const PredictorEpoch& e : trained.epochs)
        if (e.epoch == trained.bestEpoch)
            std::tie(result.devTop1, result.devTop3) = std::pair(e.devTop1, e.devTop3);
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    json["routing"] = routingJson(result.routing);
    json["routing"]["sentences"] = p.sentences;
    json["predictor"] = {{"train_data", p.trainData.string()},
                         {"train_sentences", p.sentences},
                         {"held_out_sentences", p.devSentences},
                         {"best_epoch", trained.bestEpoch},
                         {"dev_top1_hit_rate", result.devTop1},
                         {"dev_top3_hit_rate", result.devTop3},
                         {"seconds", result.seconds}};
    writeJsonFile(record, json);
    std::filesystem::remove_all(routes);
    return result;
}

} // namespace sida
