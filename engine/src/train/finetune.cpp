// SPDX-License-Identifier: MIT
// sida finetune: an existing Switch checkpoint with a fresh classification head.
#include "device/device.h"
#include "model/model_impl.h"
#include "train/model_folder.h"
#include "train/trainer.h"

#include "sida/errors.h"

namespace sida {

TrainResult finetuneClassifier(const FinetuneOptions& options, const ProgressCallback& progress,
                               const CancelToken& cancel) {
    detail::validateOptimizerOptions(options.optimizer);
    if (options.maxLength < 4 || options.maxLength > 4096) throw Error("max length must be in 4..4096");
    if (options.outDir.empty()) throw Error("output folder: none given");
    const at::ScalarType storage = detail::parseStorageDType(options.storageDType);
    detail::setComputeThreads(options.threads);
    const at::Device device = detail::resolveDevice(options.device);
    const Dataset train = readDataset(options.trainData, options.dataOptions);
    const Dataset dev =
        options.devData.empty() ? Dataset{} : readDataset(options.devData, options.dataOptions);
    const auto spiece = options.modelDir / "spiece.model";
    const Tokenizer tokenizer(spiece);

    detail::TrainingRun run;
    run.config = loadSwitchConfig(options.modelDir / "config.json");
    run.labels = detail::trainingLabels(train, options.labelNames);
    if (progress) progress({"loading " + options.modelDir.string(), 0, 0, ""});
    const Checkpoint checkpoint(options.modelDir);
    detail::loadSwitchWeights(run.config, checkpoint, at::kFloat, device, run.weights, progress, cancel);
    detail::initializeHead(run.config, static_cast<int64_t>(run.labels.size()), run.weights);
    for (at::Tensor* t : {&run.weights.classifier.denseWeight, &run.weights.classifier.denseBias,
                          &run.weights.classifier.outWeight, &run.weights.classifier.outBias})
        *t = t->to(device);
    run.config.id2label = run.labels;
    run.config.dropout_rate = options.optimizer.dropout;
    run.optimizer = options.optimizer;
    run.seed = options.seed;
    run.device = device;
    run.stateDir = options.outDir / "training-state";
    run.train = detail::tokenizeExamples(train, tokenizer, options.maxLength, run.labels);
    run.dev = detail::tokenizeExamples(dev, tokenizer, options.maxLength, run.labels);
    run.saveBest = [&](const detail::TrainingRun& r) {
        detail::writeModelFolder(options.outDir, r.config, r.weights, storage, spiece);
    };

    std::vector<std::pair<std::string, std::filesystem::path>> files{{"train", options.trainData}};
    if (!options.devData.empty()) files.emplace_back("dev", options.devData);
    nlohmann::json record = detail::trainingRecord(options.command, options.seed, device.str(), files);
    record["finetuned_from"] = std::filesystem::weakly_canonical(options.modelDir).string();
    record["recipe"] = {
        {"head_only", options.optimizer.headOnly},   {"epochs", options.optimizer.epochs},
        {"batch_size", options.optimizer.batchSize}, {"learning_rate", options.optimizer.learningRate},
        {"max_length", options.maxLength},           {"storage_dtype", options.storageDType}};
    TrainResult result = detail::runTraining(run, false, options.onEpoch, progress, cancel);
    detail::writeTrainingJson(options.outDir, record, result);
    return result;
}

} // namespace sida
