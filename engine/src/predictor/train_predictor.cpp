// SPDX-License-Identifier: MIT
// sida train-predictor: truncated knowledge distillation from the routers into the predictor.
#include "device/device.h"
#include "predictor/collected.h"
#include "predictor/distillation.h"
#include "train/training_data.h"

#include "sida/errors.h"

#include <torch/torch.h>

#include <chrono>
#include <random>

namespace sida {
namespace {

using Clock = std::chrono::steady_clock;

void validate(const PredictorTrainOptions& o) {
    auto require = [](bool ok, const std::string& message) {
        if (!ok) throw Error(message);
    };
    require(!o.trainData.empty() || !o.collected.empty(),
            "training data: give a data file or collected activations");
    require(o.devData.empty() || o.devCollected.empty(),
            "dev data: give a data file or collected activations, not both");
    require(o.epochs >= 1, "epochs must be at least 1");
    require(o.batchSize >= 1, "batch size must be at least 1");
    require(o.learningRate > 0, "learning rate must be positive");
    require(o.crossEntropyWeight >= 0, "the cross-entropy weight (lambda) must not be negative");
    require(o.topT >= 1, "T must be at least 1");
    require(o.patience >= 1, "patience must be at least 1");
    require(o.architecture.hidden >= 1 && o.architecture.hidden <= 8192, "hidden size must be in 1..8192");
    require(o.architecture.lstmLayers >= 1 && o.architecture.lstmLayers <= 8, "LSTM layers must be in 1..8");
    require(o.dtype == "float32" || o.dtype == "bfloat16",
            "the teacher's dtype must be float32 or bfloat16, not '" + o.dtype + "'");
}

std::vector<std::vector<int64_t>> tokenize(const Model::Impl& m, const Dataset& data, int64_t maxLength) {
    std::vector<std::vector<int64_t>> sequences;
    for (const Example& e : data.examples)
        sequences.push_back((e.pair ? m.tokenizer->encodePair(e.text, *e.pair, maxLength)
                                    : m.tokenizer->encode(e.text, maxLength))
                                .ids);
    return sequences;
}

struct Slice {
    std::vector<at::Tensor> values, indices;
};

Slice teacherRows(const detail::TeacherData& teacher, const std::vector<size_t>& batch,
                  const at::Device& device) {
    const at::Tensor rows = teacher.rowsOf(batch);
    Slice slice;
    for (size_t l = 0; l < teacher.topValues.size(); ++l) {
        slice.values.push_back(teacher.topValues[l].index_select(0, rows).to(device));
        slice.indices.push_back(teacher.topIndices[l].index_select(0, rows).to(device));
    }
    return slice;
}

std::vector<const std::vector<int64_t>*> sequencesOf(const detail::TeacherData& t,
                                                     const std::vector<size_t>& batch) {
    std::vector<const std::vector<int64_t>*> pointers;
    for (size_t i : batch) pointers.push_back(&t.sequences[i]);
    return pointers;
}

// Top-1 and top-3 hit rates (means over MoE layers) on the dev set.
std::pair<double, double> devHitRates(detail::PredictorNet& net, const Model::Impl& m,
                                      const detail::TeacherData& dev) {
    torch::NoGradGuard noGrad;
    net.eval();
    detail::HitCounts counts;
    for (size_t first = 0; first < dev.sequences.size(); first += 128) {
        std::vector<size_t> batch;
        for (size_t i = first; i < std::min(dev.sequences.size(), first + 128); ++i) batch.push_back(i);
        const auto embedded =
            detail::embedBatch(m.weights.shared, m.config().pad_token_id, sequencesOf(dev, batch), m.device);
        std::vector<at::Tensor> actual;
        const at::Tensor rows = dev.rowsOf(batch);
        for (const at::Tensor& indices : dev.topIndices)
            actual.push_back(indices.select(1, 0).index_select(0, rows));
        detail::countHits(detail::predictRealTokens(net, embedded), actual, 3, counts);
    }
    net.train();
    double top1 = 0, top3 = 0;
    for (size_t l = 0; l < counts.top1.size(); ++l) {
        top1 += static_cast<double>(counts.top1[l]) / static_cast<double>(counts.tokens);
        top3 += static_cast<double>(counts.topK[l]) / static_cast<double>(counts.tokens);
    }
    const double layers = static_cast<double>(std::max<size_t>(1, counts.top1.size()));
    return {top1 / layers, top3 / layers};
}

nlohmann::json recipeOf(const PredictorTrainOptions& o, int64_t trainSequences, int64_t devSequences) {
    return {{"command", o.command},
            {"epochs", o.epochs},
            {"batch_size", o.batchSize},
            {"optimizer", "Adam"},
            {"learning_rate", o.learningRate},
            {"lambda", o.crossEntropyWeight},
            {"top_t", o.topT},
            {"patience", o.patience},
            {"seed", o.seed},
            {"max_length", o.maxLength},
            {"teacher_dtype", o.dtype},
            {"train_sequences", trainSequences},
            {"dev_sequences", devSequences}};
}

} // namespace

namespace {

// Runs on a thread of its own (trainPredictor), with the options' thread count.
PredictorTrainResult trainOnThisThread(const PredictorTrainOptions& options,
                                       const std::function<void(const PredictorEpoch&)>& onEpoch,
                                       const ProgressCallback& progress, const CancelToken& cancel) {
    validate(options);
    const auto start = Clock::now();
    LoadOptions load;
    load.device = options.device;
    load.dtype = options.dtype;
    load.threads = options.threads;
    load.maxLength = options.maxLength;
    load.loadPredictor = false; // it is being replaced
    const auto model = Model::load(options.modelDir, load, progress, cancel);
    detail::setCallingThreadComputeThreads(options.threads); // loading set it to one
    const Model::Impl& m = model->impl();
    const std::string fingerprint = m.fingerprint();

    detail::TeacherData train =
        options.collected.empty()
            ? detail::collectTeacher(
                  m, tokenize(m, readDataset(options.trainData, options.dataOptions), options.maxLength),
                  options.topT, 64, progress, cancel)
            : detail::readCollected(options.collected, m, fingerprint);
    const detail::TeacherData dev =
        !options.devCollected.empty() ? detail::readCollected(options.devCollected, m, fingerprint)
        : options.devData.empty()
            ? detail::TeacherData{}
            : detail::collectTeacher(
                  m, tokenize(m, readDataset(options.devData, options.dataOptions), options.maxLength), 1, 64,
                  progress, cancel);
    if (train.sequences.empty()) throw Error("no training sequences for the predictor");

    detail::PredictorMetadata metadata;
    metadata.architecture = options.architecture;
    metadata.dModel = m.config().d_model;
    metadata.vocabSize = m.config().vocab_size;
    metadata.numExperts = m.config().num_experts;
    metadata.moeBlocks = m.info.moeBlocks;
    metadata.modelFingerprint = fingerprint;
    metadata.recipe = recipeOf(options, static_cast<int64_t>(train.sequences.size()),
                               static_cast<int64_t>(dev.sequences.size()));
    torch::manual_seed(options.seed);
    detail::PredictorNet net(metadata);
    net.to(m.device);
    net.train();
    torch::optim::Adam optimizer(net.parameters(), torch::optim::AdamOptions(options.learningRate));

    PredictorTrainResult result;
    result.bestDevTop1 = -1;
    int epochsWithoutGain = 0;
    const std::vector<size_t> lengths = detail::lengthsOf(train.sequences);
    for (int epoch = 0; epoch < options.epochs && !cancel.cancelled(); ++epoch) {
        const auto epochStart = Clock::now();
        std::mt19937_64 rng(options.seed * 7919ull + static_cast<uint64_t>(epoch));
        const auto batches = detail::bucketedBatches(lengths, options.batchSize, rng);
        double lossSum = 0;
        int64_t done = 0;
        for (const auto& batch : batches) {
            if (cancel.cancelled()) break;
            const auto embedded = detail::embedBatch(m.weights.shared, m.config().pad_token_id,
                                                     sequencesOf(train, batch), m.device);
            const Slice teacher = teacherRows(train, batch, m.device);
            optimizer.zero_grad();
            const at::Tensor loss =
                detail::distillationLoss(detail::predictRealTokens(net, embedded), teacher.values,
                                         teacher.indices, options.crossEntropyWeight);
            loss.backward();
            optimizer.step();
            lossSum += loss.item<double>();
            ++done;
            if (progress)
                progress({"epoch " + std::to_string(epoch + 1) + "/" + std::to_string(options.epochs), done,
                          static_cast<int64_t>(batches.size()), "loss " + std::to_string(lossSum / done)});
        }
        if (cancel.cancelled()) {
            result.interrupted = true;
            break;
        }
        PredictorEpoch e;
        e.epoch = epoch + 1;
        e.loss = lossSum / std::max<int64_t>(1, done);
        std::tie(e.devTop1, e.devTop3) =
            dev.sequences.empty() ? std::pair(0.0, 0.0) : devHitRates(net, m, dev);
        e.seconds = std::chrono::duration<double>(Clock::now() - epochStart).count();
        if (e.devTop1 > result.bestDevTop1 || dev.sequences.empty()) {
            e.best = true;
            result.bestDevTop1 = e.devTop1;
            result.bestEpoch = e.epoch;
            epochsWithoutGain = 0;
            net.metadata().metrics = {{"best_epoch", e.epoch},
                                      {"dev_top1_hit_rate", e.devTop1},
                                      {"dev_top3_hit_rate", e.devTop3},
                                      {"train_loss", e.loss}};
            detail::savePredictor(net, options.modelDir);
        } else {
            ++epochsWithoutGain;
        }
        result.epochs.push_back(e);
        if (onEpoch) onEpoch(e);
        if (epochsWithoutGain >= options.patience) break;
    }
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
}

} // namespace

PredictorTrainResult trainPredictor(const PredictorTrainOptions& options,
                                    const std::function<void(const PredictorEpoch&)>& onEpoch,
                                    const ProgressCallback& progress, const CancelToken& cancel) {
    return detail::runWithComputeThreads(
        options.threads, [&] { return trainOnThisThread(options, onEpoch, progress, cancel); });
}

} // namespace sida
