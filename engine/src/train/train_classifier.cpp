// SPDX-License-Identifier: MIT
// sida train: a Switch Transformers classifier and its tokenizer from scratch.
#include "device/device.h"
#include "model/model_impl.h"
#include "train/model_folder.h"
#include "train/trainer.h"

#include "sida/errors.h"

#include <sentencepiece_trainer.h>

#include <fstream>

namespace sida {
namespace {

void require(bool condition, const std::string& message) {
    if (!condition) throw Error(message);
}

void validate(const TrainOptions& o) {
    const ArchitectureOptions& a = o.architecture;
    require(!o.trainData.empty(), "training data: no file given");
    require(!o.outDir.empty(), "output folder: none given");
    require(a.dModel > 0 && a.dModel <= 8192, "d_model must be in 1..8192");
    require(a.numLayers > 0 && a.numLayers <= 64, "layers must be in 1..64");
    require(a.numHeads > 0 && a.dKv > 0, "heads and d_kv must be positive");
    require(a.dFf > 0, "d_ff must be positive");
    require(a.numExperts >= 1 && a.numExperts <= 4096, "experts must be in 1..4096");
    require(a.sparseStep >= 0 && a.sparseStep <= a.numLayers, "sparse step must be in 0..layers");
    require(a.expertCapacity > 0, "expert capacity must be positive");
    require(o.maxLength >= 4 && o.maxLength <= 4096, "max length must be in 4..4096");
    if (o.tokenizer)
        require(std::filesystem::is_regular_file(*o.tokenizer),
                "tokenizer '" + o.tokenizer->string() + "' does not exist or is not a file");
    detail::validateOptimizerOptions(o.optimizer);
}

// SentencePiece unigram with T5's special ids: pad 0, </s> 1, unk 2, no <s>.
// One thread keeps the result the same from run to run.
void trainTokenizer(const Dataset& data, int64_t pieces, bool caseFold, const std::filesystem::path& outDir) {
    const auto corpus = outDir / ".tokenizer-corpus.txt";
    {
        std::ofstream out(corpus, std::ios::binary);
        for (const Example& e : data.examples) {
            out << e.text << "\n";
            if (e.pair) out << *e.pair << "\n";
        }
    }
    const std::string args =
        "--input=" + corpus.string() + " --model_prefix=" + (outDir / "spiece").string() +
        " --vocab_size=" + std::to_string(pieces) +
        " --model_type=unigram --character_coverage=1.0 --pad_id=0 --eos_id=1 --unk_id=2"
        " --bos_id=-1 --pad_piece=<pad> --eos_piece=</s> --unk_piece=<unk> --num_threads=1"
        " --minloglevel=2 --normalization_rule_name=" +
        (caseFold ? "nmt_nfkc_cf" : "nmt_nfkc");
    const auto status = sentencepiece::SentencePieceTrainer::Train(args);
    std::filesystem::remove(corpus);
    std::filesystem::remove(outDir / "spiece.vocab");
    if (!status.ok())
        throw Error("training the tokenizer failed (--vocab " + std::to_string(pieces) +
                    "): " + status.ToString());
}

SwitchConfig configFor(const TrainOptions& o, const Tokenizer& tokenizer,
                       const std::vector<std::string>& labels) {
    const ArchitectureOptions& a = o.architecture;
    SwitchConfig c;
    // T5's embedding has the pieces plus 100 sentinels, rounded up to a multiple of 128.
    c.vocab_size = (tokenizer.vocabSize() + 127) / 128 * 128;
    c.d_model = a.dModel;
    c.d_kv = a.dKv;
    c.d_ff = a.dFf;
    c.num_layers = a.numLayers;
    c.num_heads = a.numHeads;
    c.num_experts = a.numExperts;
    c.expert_capacity = a.expertCapacity;
    c.encoder_sparse_step = a.sparseStep;
    c.num_sparse_encoder_layers = static_cast<int64_t>(c.sparseBlocks().size());
    c.dropout_rate = o.optimizer.dropout;
    c.router_jitter_noise = o.optimizer.routerJitter;
    c.id2label = labels;
    return c;
}

} // namespace

TrainResult trainClassifier(const TrainOptions& options, const ProgressCallback& progress,
                            const CancelToken& cancel) {
    validate(options);
    const at::ScalarType storage = detail::parseStorageDType(options.storageDType);
    detail::setComputeThreads(options.threads);
    const at::Device device = detail::resolveDevice(options.device);
    if (progress) progress({"reading data", 0, 0, options.trainData.string()});
    const Dataset train = readDataset(options.trainData, options.dataOptions);
    const Dataset dev =
        options.devData.empty() ? Dataset{} : readDataset(options.devData, options.dataOptions);
    std::filesystem::create_directories(options.outDir);

    const auto spiece = options.outDir / "spiece.model";
    if (options.tokenizer) {
        if (!std::filesystem::exists(spiece) || !std::filesystem::equivalent(*options.tokenizer, spiece))
            std::filesystem::copy_file(*options.tokenizer, spiece,
                                       std::filesystem::copy_options::overwrite_existing);
    } else if (!(options.resume && std::filesystem::exists(spiece))) {
        if (progress)
            progress({"training the tokenizer", 0, 0,
                      std::to_string(options.architecture.vocabPieces) + " pieces"});
        trainTokenizer(train, options.architecture.vocabPieces, options.architecture.caseFold,
                       options.outDir);
    }
    const Tokenizer tokenizer(spiece);

    detail::TrainingRun run;
    run.labels = detail::trainingLabels(train, options.labelNames);
    run.config = configFor(options, tokenizer, run.labels);
    run.optimizer = options.optimizer;
    run.seed = options.seed;
    run.device = device;
    run.stateDir = options.outDir / "training-state";
    run.train = detail::tokenizeExamples(train, tokenizer, options.maxLength, run.labels);
    run.dev = detail::tokenizeExamples(dev, tokenizer, options.maxLength, run.labels);
    at::manual_seed(options.seed);
    detail::initializeWeights(run.config, static_cast<int64_t>(run.labels.size()), run.weights);
    for (const detail::TensorSlot& slot : detail::tensorSlots(run.config, run.labels.size(), run.weights))
        *slot.tensor = slot.tensor->to(device);
    if (options.optimizer.tokenRoutingWeight > 0)
        for (const at::Tensor& a :
             detail::balancedTokenExperts(run.train, run.config.vocab_size, run.config.num_experts,
                                          run.config.sparseBlocks().size(), options.seed))
            run.tokenExperts.push_back(a.to(device));

    std::vector<std::pair<std::string, std::filesystem::path>> files{{"train", options.trainData}};
    if (!options.devData.empty()) files.emplace_back("dev", options.devData);
    nlohmann::json record = detail::trainingRecord(options.command, options.seed, device.str(), files);
    const ArchitectureOptions& a = options.architecture;
    const OptimizerOptions& p = options.optimizer;
    record["recipe"] = {{"d_model", a.dModel},
                        {"layers", a.numLayers},
                        {"heads", a.numHeads},
                        {"d_kv", a.dKv},
                        {"d_ff", a.dFf},
                        {"experts", a.numExperts},
                        {"sparse_step", a.sparseStep},
                        {"tokenizer_pieces", tokenizer.pieceCount()},
                        {"tokenizer_trained", !options.tokenizer},
                        {"tokenizer_case_fold", a.caseFold},
                        {"max_length", options.maxLength},
                        {"epochs", p.epochs},
                        {"batch_size", p.batchSize},
                        {"learning_rate", p.learningRate},
                        {"weight_decay", p.weightDecay},
                        {"warmup_steps", p.warmupSteps},
                        {"clip_norm", p.clipNorm},
                        {"dropout", p.dropout},
                        {"router_jitter", p.routerJitter},
                        {"load_balance_weight", p.loadBalanceWeight},
                        {"z_loss_weight", p.zLossWeight},
                        {"token_routing_weight", p.tokenRoutingWeight},
                        {"storage_dtype", options.storageDType}};
    record["rows"] = {{"train", run.train.examples.size()},
                      {"dev", run.dev.examples.size()},
                      {"skipped", train.problems.size() + dev.problems.size() + run.train.skipped.size() +
                                      run.dev.skipped.size()}};
    run.saveBest = [&](const detail::TrainingRun& r) {
        detail::writeModelFolder(options.outDir, r.config, r.weights, storage, spiece);
    };
    TrainResult result = detail::runTraining(run, options.resume, options.onEpoch, progress, cancel);
    detail::writeTrainingJson(options.outDir, record, result);
    return result;
}

} // namespace sida
