// SPDX-License-Identifier: MIT
// sida collect, train-predictor, eval-predictor: the SiDA hash function.
#include "commands.h"
#include "progress_bar.h"

#include "sida/predictor.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace sida::cli {
namespace {

std::optional<std::string> modelArgument(const Args& args) {
    const auto& p = args.positionals();
    return p.empty() ? std::nullopt : std::optional(p[0]);
}

nlohmann::json toJson(const PredictorReport& r) {
    nlohmann::json j = {{"sequences", r.sequences},
                        {"tokens", r.tokens},
                        {"top_k", r.topK},
                        {"top1_hit_rate", r.top1HitRate},
                        {"topk_hit_rate", r.topKHitRate},
                        {"majority_baseline", r.majorityBaseline},
                        {"token_lookup_top1", r.tokenLookupTop1},
                        {"routing_aid_agreement", r.routingAidAgreement},
                        {"routing_aid_note", r.routingAidNote},
                        {"predictor_ms_per_sequence", r.predictorMsPerSequence},
                        {"model_ms_per_sequence", r.modelMsPerSequence},
                        {"layers", nlohmann::json::array()}};
    for (const PredictorLayerReport& l : r.layers) {
        nlohmann::json misses = nlohmann::json::array();
        for (const PredictorMiss& m : l.misses)
            misses.push_back({{"predicted", m.predicted}, {"actual", m.actual}, {"count", m.count}});
        j["layers"].push_back({{"block", l.block},
                               {"top1_hit_rate", l.top1HitRate},
                               {"topk_hit_rate", l.topKHitRate},
                               {"set_recall", l.setRecall},
                               {"predicted_set_size", l.predictedSetSize},
                               {"router_set_size", l.routerSetSize},
                               {"frequent_misses", misses},
                               {"confusion", l.confusion}});
    }
    return j;
}

void printHuman(const PredictorReport& r) {
    std::printf("sequences %lld, tokens %lld (real tokens only)\n\n", static_cast<long long>(r.sequences),
                static_cast<long long>(r.tokens));
    std::printf("MoE block   top-1   top-%d   set recall   predicted set   router set\n", r.topK);
    for (const PredictorLayerReport& l : r.layers)
        std::printf("%9lld  %6.4f  %6.4f   %10.4f   %13.2f   %10.2f\n", static_cast<long long>(l.block),
                    l.top1HitRate, l.topKHitRate, l.setRecall, l.predictedSetSize, l.routerSetSize);
    std::printf("     mean  %6.4f  %6.4f   (always guessing the most used expert: %.4f)\n\n", r.top1HitRate,
                r.topKHitRate, r.majorityBaseline);
    if (r.tokenLookupTop1 >= 0) {
        std::printf("token-only baselines, top-1 against the routers:\n");
        std::printf("  each token id's most frequent expert in the training set  %.4f  (predictor %+.4f)\n",
                    r.tokenLookupTop1, r.top1HitRate - r.tokenLookupTop1);
        if (r.routingAidAgreement >= 0)
            std::printf(
                "  the routing aid's token-to-expert table                   %.4f  (predictor %+.4f)\n",
                r.routingAidAgreement, r.top1HitRate - r.routingAidAgreement);
        else
            std::printf("  the routing aid's table: not measured (%s)\n", r.routingAidNote.c_str());
        std::printf("\n");
    }
    for (const PredictorLayerReport& l : r.layers) {
        std::printf("most frequent misses in block %lld (predicted -> router):",
                    static_cast<long long>(l.block));
        for (size_t i = 0; i < l.misses.size() && i < 5; ++i)
            std::printf("  %lld->%lld x%lld", static_cast<long long>(l.misses[i].predicted),
                        static_cast<long long>(l.misses[i].actual),
                        static_cast<long long>(l.misses[i].count));
        std::printf("\n");
    }
    std::printf("\ncost per sequence at batch 1: predictor %.3f ms, model forward %.3f ms (%.1f%%)\n",
                r.predictorMsPerSequence, r.modelMsPerSequence,
                r.modelMsPerSequence > 0 ? 100 * r.predictorMsPerSequence / r.modelMsPerSequence : 0.0);
}

} // namespace

int runCollect(const Arguments& arguments) {
    const CollectOptions d;
    ArgParser parser("collect", "[MODEL_DIR] --data FILE --out DIR [options]",
                     "Run a model over a data set and store, per sequence, the token ids and every MoE\n"
                     "layer's router logits for real tokens (padding excluded), as safetensors shards in\n"
                     "DIR: the teacher's top-T logits with their expert ids, which is all truncated\n"
                     "distillation needs (all logits when E <= T). Resumable: complete shards are kept.");
    parser.positionals("MODEL_DIR", "the model folder (default: the bundled demo model)", 0, 1)
        .option("--data", "FILE", "the data set (labels not needed)")
        .option("--out", "DIR", "folder for the shards")
        .option("--top-t", "T", "logits kept per token and layer", std::to_string(d.topT))
        .option("--shard", "N", "sequences per shard", std::to_string(d.sequencesPerShard))
        .option("--batch", "N", "sequences per forward pass", std::to_string(d.batchSize));
    addDataOptions(parser);
    addLoadOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;
    if (!args->optional("--data") || !args->optional("--out"))
        throw UsageError("--data and --out are required");
    DatasetOptions dataOptions = dataOptionsFrom(*args);
    dataOptions.requireLabels = false;
    CollectOptions options;
    options.out = args->get("--out");
    options.topT = args->integer("--top-t", 1, 65536);
    options.sequencesPerShard = args->integer("--shard", 1, 100000000);
    options.batchSize = static_cast<int>(args->integer("--batch", 1, 65536));
    LoadOptions load = loadOptionsFrom(*args);
    load.noDrop = true;
    const Dataset data = readDataset(args->get("--data"), dataOptions);
    reportProblems(data.problems, args->get("--data"));
    const auto model = loadModel(resolveModelDir(modelArgument(*args)), load);
    ProgressBar bar("sequences");
    const CollectResult r =
        collectRouterLogits(*model, data, options, bar.callback(), installInterruptHandler());
    bar.finishLine();
    std::printf("%lld sequences, %lld tokens in %d shard(s) (%d reused) in %s; %s\n",
                static_cast<long long>(r.sequences), static_cast<long long>(r.tokens), r.shards,
                r.shardsReused, options.out.string().c_str(),
                r.fullLogits ? "all router logits kept" : "top-T router logits kept (E > T)");
    return 0;
}

int runTrainPredictor(const Arguments& arguments) {
    const PredictorTrainOptions d;
    ArgParser parser("train-predictor", "[MODEL_DIR] --data FILE [--dev FILE] [options]",
                     "Train the SiDA predictor of a model by truncated knowledge distillation from its\n"
                     "routers: loss = lambda * CE(student, teacher argmax) + L1 over the softmax of the\n"
                     "teacher's top-T experts (T = min(30, E)). Early stopping on the dev top-1 hit rate.\n"
                     "Writes predictor.safetensors and predictor.json into the model folder.");
    parser.positionals("MODEL_DIR", "the model folder (default: the bundled demo model)", 0, 1)
        .option("--data", "FILE", "training data (its router activations are collected on the fly)")
        .option("--collected", "DIR", "use activations saved by 'sida collect' instead of --data")
        .option("--dev", "FILE", "dev data for early stopping")
        .option("--hidden", "N", "predictor width", std::to_string(d.architecture.hidden))
        .option("--lstm-layers", "N", "LSTM layers", std::to_string(d.architecture.lstmLayers))
        .flag("--bidirectional", "a bidirectional LSTM")
        .option("--epochs", "N", "maximum epochs", std::to_string(d.epochs))
        .option("--batch", "N", "sequences per step", std::to_string(d.batchSize))
        .option("--lr", "X", "Adam learning rate", "0.001")
        .option("--lambda", "X", "weight of the cross-entropy term", "0.005")
        .option("--top-t", "T", "distil over the teacher's top-T experts", std::to_string(d.topT))
        .option("--patience", "N", "epochs without dev improvement before stopping",
                std::to_string(d.patience))
        .option("--max-length", "N", "truncate inputs to N tokens", std::to_string(d.maxLength))
        .option("--seed", "N", "random seed", "42")
        .option("--threads", "N", "CPU threads, 0 = one per core", "0")
        .option("--device", "D", "auto, cpu, cuda or cuda:N", "auto")
        .option("--dtype", "T", "the routers' compute dtype: float32 or bfloat16 (half the memory)",
                "float32");
    addDataOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;
    if (!args->optional("--data") && !args->optional("--collected"))
        throw UsageError("--data or --collected is required");
    PredictorTrainOptions options;
    options.modelDir = resolveModelDir(modelArgument(*args));
    options.trainData = args->get("--data");
    options.collected = args->get("--collected");
    options.devData = args->get("--dev");
    options.dataOptions = dataOptionsFrom(*args);
    options.dataOptions.requireLabels = false;
    options.architecture.hidden = args->integer("--hidden", 1, 8192);
    options.architecture.lstmLayers = args->integer("--lstm-layers", 1, 8);
    options.architecture.bidirectional = args->has("--bidirectional");
    options.epochs = static_cast<int>(args->integer("--epochs", 1, 10000));
    options.batchSize = static_cast<int>(args->integer("--batch", 1, 65536));
    options.learningRate = args->number("--lr", 1e-9, 10);
    options.crossEntropyWeight = args->number("--lambda", 0, 1000);
    options.topT = args->integer("--top-t", 1, 65536);
    options.patience = static_cast<int>(args->integer("--patience", 1, 1000));
    options.maxLength = args->integer("--max-length", 4, 4096);
    options.seed = static_cast<uint64_t>(args->integer("--seed", 0, INT64_MAX));
    options.threads = static_cast<int>(args->integer("--threads", 0, 1024));
    options.device = args->get("--device");
    options.dtype = args->get("--dtype");
    if (options.dtype != "float32" && options.dtype != "bfloat16")
        throw UsageError("--dtype: use float32 or bfloat16, not '" + options.dtype + "'");
    options.command = commandLine("train-predictor", arguments);
    ProgressBar bar("steps");
    const auto onEpoch = [&](const PredictorEpoch& e) {
        bar.finishLine();
        std::printf("epoch %d  loss %.5f  dev top-1 %.4f  top-3 %.4f  (%.0fs)%s\n", e.epoch, e.loss,
                    e.devTop1, e.devTop3, e.seconds, e.best ? "  best, saved" : "");
        std::fflush(stdout);
    };
    const PredictorTrainResult r =
        trainPredictor(options, onEpoch, bar.callback(), installInterruptHandler());
    bar.finishLine();
    std::printf("%s: best dev top-1 %.4f (epoch %d) in %.0fs; predictor in %s\n",
                r.interrupted ? "interrupted" : "done", r.bestDevTop1, r.bestEpoch, r.seconds,
                options.modelDir.string().c_str());
    return r.interrupted ? 130 : 0;
}

int runEvalPredictor(const Arguments& arguments) {
    ArgParser parser("eval-predictor", "[MODEL_DIR] --data FILE [--top-k K] [--json]",
                     "Measure a model's predictor against its routers on a data set, over real tokens:\n"
                     "per MoE layer the top-1 and top-k hit rates (the router's choice among the\n"
                     "predictor's k best), the expert-set recall per sequence and the predicted set's\n"
                     "size, the most frequent (predicted, actual) misses, and the predictor's cost per\n"
                     "sequence next to the model's own forward.");
    parser.positionals("MODEL_DIR", "the model folder (default: the bundled demo model)", 0, 1)
        .option("--data", "FILE", "the data set (labels not needed)")
        .option("--top-k", "K", "size of the predicted set per token", "3")
        .option("--limit", "N", "use only the first N examples")
        .option("--baselines-from", "FILE",
                "the model's training set: also score two token-only baselines, each token id's most "
                "frequent expert there and the routing aid's table (rebuilt when FILE is the recorded "
                "training set)")
        .flag("--json", "print one JSON object (top1_hit_rate, layers, ...)");
    addDataOptions(parser);
    addLoadOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;
    if (!args->optional("--data")) throw UsageError("--data is required");
    DatasetOptions dataOptions = dataOptionsFrom(*args);
    dataOptions.requireLabels = false;
    if (args->optional("--limit")) dataOptions.limit = args->integer("--limit", 1, INT64_MAX);
    const Dataset data = readDataset(args->get("--data"), dataOptions);
    std::optional<Dataset> training;
    if (const auto file = args->optional("--baselines-from")) {
        DatasetOptions trainingOptions = dataOptionsFrom(*args);
        trainingOptions.requireLabels = false;
        training = readDataset(*file, trainingOptions);
        reportProblems(training->problems, *file);
    }
    const auto model = loadModel(resolveModelDir(modelArgument(*args)), loadOptionsFrom(*args));
    ProgressBar bar("sequences");
    const PredictorReport r =
        evaluatePredictor(*model, data, static_cast<int>(args->integer("--top-k", 1, 65536)),
                          training ? &*training : nullptr, bar.callback(), installInterruptHandler());
    bar.finishLine();
    if (args->has("--json"))
        std::cout << toJson(r).dump(2) << "\n";
    else
        printHuman(r);
    return 0;
}

} // namespace sida::cli
