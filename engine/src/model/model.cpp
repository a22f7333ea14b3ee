// SPDX-License-Identifier: MIT
#include "core/json_fields.h"
#include "device/device.h"
#include "model/model_impl.h"
#include "predictor/predictor_net.h"
#include "serving/budgets.h"
#include "serving/serving_hooks.h"

#include "sida/errors.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstdlib>

#include <unistd.h>

namespace sida {
namespace {

std::string gib(double bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    return text;
}

// An absurd but well-formed config (num_experts 1e9) must be refused before anything is
// allocated. What loading needs is the weights other than the experts, and room for one expert in
// each cache: experts are read from disk when needed, under budgets set when serving starts.
void checkFitsInMemory(const std::filesystem::path& dir, const SwitchConfig& config, at::ScalarType dtype,
                       const at::Device& device) {
    const double element = static_cast<double>(at::elementSize(dtype));
    SwitchConfig withoutExperts = config;
    withoutExperts.num_experts = 0;
    const double expert =
        2.0 * static_cast<double>(config.d_model) * static_cast<double>(config.d_ff) * element;
    const double bytes =
        static_cast<double>(detail::expectedParameterCount(withoutExperts, 0)) * element + 2 * expert;
    const DeviceMemory memory = detail::deviceMemory(device);
    if (memory.freeBytes > 0 && bytes > static_cast<double>(memory.freeBytes))
        throw Error(
            "model '" + dir.string() + "' needs at least " + gib(bytes) + " in " + at::toString(dtype) +
            " (its weights other than the experts, and room for one expert) but only " +
            gib(static_cast<double>(memory.freeBytes)) + " is available on " + device.str() +
            " (config.json: d_model " + std::to_string(config.d_model) + ", " +
            std::to_string(config.num_experts) + " experts, d_ff " + std::to_string(config.d_ff) + ")");
}

// Hugging Face names unnamed classes LABEL_<id>.
std::vector<std::string> labelNames(const SwitchConfig& config, int64_t count) {
    if (!config.id2label.empty()) return config.id2label;
    std::vector<std::string> names;
    for (int64_t i = 0; i < count; ++i) names.push_back("LABEL_" + std::to_string(i));
    return names;
}

std::filesystem::path executableDir() {
    char buffer[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n <= 0) return {};
    return std::filesystem::path(std::string(buffer, n)).parent_path();
}

double metric(const nlohmann::json& metrics, const char* key) {
    return metrics.contains(key) && metrics[key].is_number() ? metrics[key].get<double>() : 0.0;
}

void loadPredictorInto(Model::Impl& m, const std::filesystem::path& dir) {
    m.predictor = detail::loadPredictor(dir, m.config(), m.fingerprint(), m.device);
    if (!m.predictor) return;
    const detail::PredictorMetadata& meta = m.predictor->metadata();
    PredictorInfo& p = m.info.predictor;
    p.present = true;
    p.hidden = meta.architecture.hidden;
    p.lstmLayers = meta.architecture.lstmLayers;
    p.bidirectional = meta.architecture.bidirectional;
    p.devTop1 = metric(meta.metrics, "dev_top1_hit_rate");
    p.devTop3 = metric(meta.metrics, "dev_top3_hit_rate");
}

} // namespace

std::filesystem::path defaultModelDir() {
    std::vector<std::filesystem::path> candidates;
    if (const char* env = std::getenv("SIDA_DEFAULT_MODEL")) candidates.emplace_back(env);
    candidates.push_back(executableDir() / "../share/sida-studio/models/sst2-switch");
    candidates.emplace_back(SIDA_SOURCE_MODEL_DIR);
    for (const auto& dir : candidates)
        if (std::filesystem::exists(dir / "config.json")) return std::filesystem::weakly_canonical(dir);
    return {};
}

std::string validateInput(const TextInput& input) {
    auto check = [](const std::string& text, const char* what) -> std::string {
        if (const int64_t bad = findInvalidUtf8(text); bad >= 0)
            return std::string(what) + " is not valid UTF-8 (bad byte at offset " + std::to_string(bad) + ")";
        if (isBlankText(text)) return std::string(what) + " is empty";
        return {};
    };
    if (auto error = check(input.text, input.pair ? "the first sentence" : "the text"); !error.empty())
        return error;
    return input.pair ? check(*input.pair, "the second sentence") : std::string();
}

Encoding Model::Impl::encode(const TextInput& input) const {
    return input.pair ? tokenizer->encodePair(input.text, *input.pair, info.maxLength)
                      : tokenizer->encode(input.text, info.maxLength);
}

std::string Model::Impl::fingerprint() const { return detail::modelFingerprint(*checkpoint); }

detail::TokenBatch Model::Impl::pad(const std::vector<std::vector<int64_t>>& sequences) const {
    std::vector<const std::vector<int64_t>*> pointers;
    for (const auto& s : sequences) pointers.push_back(&s);
    return detail::padSequences(pointers, config().pad_token_id, device);
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::shared_ptr<Model> Model::load(const std::filesystem::path& dir, const LoadOptions& options,
                                   const ProgressCallback& progress, const CancelToken& cancel) {
    if (!std::filesystem::is_directory(dir))
        throw Error("model folder '" + dir.string() + "' does not exist or is not a folder");
    if (options.maxLength < 4 || options.maxLength > 65536)
        throw Error("maximum length " + std::to_string(options.maxLength) + " is out of range (4..65536)");
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->info.path = std::filesystem::weakly_canonical(dir);
    impl->info.maxLength = options.maxLength;
    impl->dtype = detail::parseComputeDType(options.dtype);
    const detail::IoMode io = detail::parseIoMode(options.io, "I/O mode");
    detail::setComputeThreads(options.threads);
    // Loading gains little from a parallel team, which would stay on this thread, idle, and slow
    // the pipeline's (device.h, setCallingThreadComputeThreads).
    detail::setCallingThreadComputeThreads(1);
    impl->device = detail::resolveDevice(options.device);

    if (progress) progress({"reading config.json", 0, 0, ""});
    impl->info.config = loadSwitchConfig(dir / "config.json");
    checkFitsInMemory(dir, impl->info.config, impl->dtype, impl->device);
    impl->tokenizer = std::make_unique<Tokenizer>(dir / "spiece.model");
    impl->info.tokenizerPieces = impl->tokenizer->pieceCount();
    if (impl->tokenizer->vocabSize() > impl->info.config.vocab_size)
        throw Error((dir / "spiece.model").string() + " has " +
                    std::to_string(impl->tokenizer->pieceCount()) +
                    " pieces (+100 extra ids), more "
                    "than config.json's vocab_size " +
                    std::to_string(impl->info.config.vocab_size));

    if (progress) progress({"opening checkpoint", 0, 0, ""});
    impl->checkpoint = std::make_unique<Checkpoint>(dir);
    c10::InferenceMode guard;
    const int64_t labels = detail::loadSwitchWeights(impl->info.config, *impl->checkpoint, impl->dtype,
                                                     impl->device, impl->weights, progress, cancel,
                                                     /*includeExperts=*/false);
    if (progress) progress({"indexing experts", 0, 0, ""});
    impl->experts =
        std::make_unique<detail::ExpertStore>(impl->info.config, impl->info.config.sparseBlocks(),
                                              *impl->checkpoint, impl->dtype, impl->device, io, cancel);
    // Both caches start empty: experts are read from disk when first needed. Model::classify
    // uses them under the automatic budgets; a pipeline sets its own.
    const detail::CacheSizes sizes =
        detail::resolveCacheSizes(Budget::automatic(), Budget::automatic(), false, false, *impl->experts);
    impl->experts->setCapacity(sizes.poolSlots, Eviction::Lru);
    impl->experts->hostCache().setCapacity(sizes.hostEntries);
    if (labels > 0) impl->info.labels = labelNames(impl->info.config, labels);
    detail::describeModel(impl->info, impl->weights, impl->checkpoint.get(), impl->dtype, impl->device);
    if (options.loadPredictor) loadPredictorInto(*impl, dir);
    if (std::filesystem::exists(dir / "training.json"))
        impl->info.trainingRecord = detail::readTextFile((dir / "training.json").string());
    // The mapping served the non-expert weights, now copied out: its pages leave the resident set.
    for (const auto& file : impl->checkpoint->files()) file->mapping().release();
    return std::shared_ptr<Model>(new Model(std::move(impl)));
}

const ModelInfo& Model::info() const { return impl_->info; }
const Tokenizer& Model::tokenizer() const { return *impl_->tokenizer; }

std::vector<Classification> Model::classify(const std::vector<TextInput>& inputs, int batchSize) const {
    if (batchSize < 1) throw Error("batch size must be at least 1, not " + std::to_string(batchSize));
    const Impl& m = *impl_;
    std::vector<Classification> results(inputs.size());
    if (!m.weights.classifier.present()) {
        for (auto& r : results)
            r.error = "model '" + m.info.path.string() +
                      "' has no classifier head (classifier.out_proj.weight); fine-tune it with "
                      "'sida finetune' first";
        return results;
    }
    // Inputs that cannot be encoded get their error now; the rest run in batches, in order.
    std::vector<size_t> runnable;
    std::vector<std::vector<int64_t>> encoded(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        results[i].error = validateInput(inputs[i]);
        if (!results[i].ok()) continue;
        const Encoding e = m.encode(inputs[i]);
        encoded[i] = e.ids;
        results[i].tokens = static_cast<int64_t>(e.ids.size());
        results[i].truncated = e.truncated;
        runnable.push_back(i);
    }
    detail::runWithComputeThreads(m.options.threads, [&] {
        c10::InferenceMode guard;
        for (size_t start = 0; start < runnable.size(); start += batchSize) {
            const size_t end = std::min(runnable.size(), start + batchSize);
            std::vector<std::vector<int64_t>> sequences;
            for (size_t j = start; j < end; ++j) sequences.push_back(encoded[runnable[j]]);
            const detail::TokenBatch batch = m.pad(sequences);
            const auto lock = m.experts->lock();
            detail::StoreRouterHooks hooks(*m.experts, m.options.noDrop);
            const auto out = detail::runEncoder(m.config(), m.weights, batch, hooks, {});
            const at::Tensor probs =
                at::softmax(detail::classifierLogits(m.weights, out.hidden, batch.mask, {}), -1)
                    .to(at::kDouble)
                    .cpu();
            for (size_t j = start; j < end; ++j) {
                Classification& r = results[runnable[j]];
                const at::Tensor row = probs[static_cast<int64_t>(j - start)];
                r.probabilities.assign(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
                r.label = row.argmax().item<int64_t>();
                r.labelName = m.info.labels[r.label];
                r.confidence = r.probabilities[r.label];
            }
        }
    });
    return results;
}

namespace {

template <class T>
std::vector<T> toVector(const at::Tensor& tensor) {
    const at::Tensor cpu = tensor.contiguous().cpu();
    return std::vector<T>(cpu.data_ptr<T>(), cpu.data_ptr<T>() + cpu.numel());
}

} // namespace

std::vector<EncoderDump> Model::inspect(const std::vector<std::vector<int64_t>>& sequences) const {
    const Impl& m = *impl_;
    for (const auto& ids : sequences) {
        if (ids.empty()) throw Error("inspect needs at least one token id per sequence");
        for (int64_t id : ids)
            if (id < 0 || id >= m.config().vocab_size)
                throw Error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                            std::to_string(m.config().vocab_size - 1) + ")");
    }
    c10::InferenceMode guard;
    const detail::TokenBatch batch = m.pad(sequences);
    const auto lock = m.experts->lock();
    detail::StoreRouterHooks hooks(*m.experts, m.options.noDrop);
    const auto out = detail::runEncoder(m.config(), m.weights, batch, hooks, {});
    at::Tensor probs;
    if (m.weights.classifier.present())
        probs =
            at::softmax(detail::classifierLogits(m.weights, out.hidden, batch.mask, {}), -1).to(at::kDouble);

    std::vector<EncoderDump> dumps(sequences.size());
    for (size_t b = 0; b < sequences.size(); ++b) {
        EncoderDump& dump = dumps[b];
        const auto length = static_cast<int64_t>(sequences[b].size());
        // Real tokens are numbered sequence by sequence, so this sequence's are one slice.
        const at::Tensor rows = batch.sequenceOf.eq(static_cast<int64_t>(b)).nonzero().squeeze(1);
        dump.ids = sequences[b];
        dump.dModel = m.config().d_model;
        dump.hidden = toVector<float>(out.hidden[static_cast<int64_t>(b)].slice(0, 0, length).to(at::kFloat));
        for (const auto& record : out.moe) {
            dump.routerLogits.push_back(toVector<float>(record.router->logits.index_select(0, rows)));
            dump.experts.push_back(toVector<int64_t>(record.router->expert.index_select(0, rows)));
            std::vector<bool> dropped(length, false);
            if (record.dropped.defined()) {
                const auto flags = toVector<bool>(record.dropped.index_select(0, rows));
                dropped.assign(flags.begin(), flags.end());
            }
            dump.dropped.push_back(std::move(dropped));
        }
        if (probs.defined()) dump.probabilities = toVector<double>(probs[static_cast<int64_t>(b)]);
    }
    return dumps;
}

} // namespace sida
