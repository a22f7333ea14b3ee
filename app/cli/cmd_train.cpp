// SPDX-License-Identifier: MIT
// sida train: a Switch Transformers classifier from scratch.
#include "commands.h"
#include "progress_bar.h"

#include "sida/train.h"

#include <cstdio>
#include <iostream>

namespace sida::cli {
namespace {

std::string minutes(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
    return text;
}

void printEpoch(const EpochMetrics& m, int epochs) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "epoch %d/%d  loss %.4f  aux %.3f  z %.3f  dev acc %.4f  F1 %.4f  expert entropy %.3f  "
                  "min expert share %.2f%%  (%s)%s",
                  m.epoch, epochs, m.loss, m.auxLoss, m.zLoss, m.devAccuracy, m.devF1, m.expertEntropy,
                  m.minExpertShare * 100, minutes(m.seconds).c_str(), m.best ? "  best, saved" : "");
    std::cout << line << std::endl;
}

void addOptimizerOptions(ArgParser& parser, const OptimizerOptions& d) {
    parser.option("--epochs", "N", "training epochs", std::to_string(d.epochs))
        .option("--batch", "N", "examples per step", std::to_string(d.batchSize))
        .option("--lr", "X", "peak learning rate (AdamW)", std::to_string(d.learningRate))
        .option("--weight-decay", "X", "AdamW weight decay", std::to_string(d.weightDecay))
        .option("--warmup", "N", "linear warm-up steps before linear decay", std::to_string(d.warmupSteps))
        .option("--clip", "X", "gradient norm clipping", std::to_string(d.clipNorm))
        .option("--dropout", "X", "dropout rate", std::to_string(d.dropout))
        .option("--seed", "N", "random seed", "42")
        .option("--threads", "N", "CPU threads, 0 = one per core", "0")
        .option("--device", "D", "auto, cpu, cuda or cuda:N", "auto")
        .option("--max-length", "N", "truncate inputs to N tokens", "128")
        .option("--label-names", "A,B", "names of integer labels 0, 1, ... (e.g. negative,positive)");
}

OptimizerOptions optimizerOptionsFrom(const Args& args, OptimizerOptions o) {
    o.epochs = static_cast<int>(args.integer("--epochs", 1, 10000));
    o.batchSize = static_cast<int>(args.integer("--batch", 1, 65536));
    o.learningRate = args.number("--lr", 1e-9, 10);
    o.weightDecay = args.number("--weight-decay", 0, 10);
    o.warmupSteps = args.integer("--warmup", 0, 100000000);
    o.clipNorm = args.number("--clip", 1e-6, 1e6);
    o.dropout = args.number("--dropout", 0, 0.99);
    return o;
}

} // namespace

int runTrain(const Arguments& arguments) {
    const TrainOptions d;
    const ArchitectureOptions& a = d.architecture;
    const OptimizerOptions& o = d.optimizer;
    ArgParser parser(
        "train", "--data TRAIN --out DIR [--dev DEV] [options]",
        "Train a Switch Transformers encoder classifier from scratch on a labeled TSV/CSV\n"
        "(and a SentencePiece tokenizer, unless --tokenizer is given). Writes a Hugging Face\n"
        "model folder: config.json, model.safetensors, spiece.model, training.json. Keeps the\n"
        "epoch with the best dev accuracy. Ctrl-C saves the training state; --resume continues.");
    parser.option("--data", "TRAIN", "training data (TSV, CSV; GLUE layouts are detected)")
        .option("--dev", "DEV", "dev data, evaluated after every epoch")
        .option("--out", "DIR", "the model folder to write")
        .option("--tokenizer", "FILE", "an existing spiece.model instead of training one")
        .option("--vocab", "N", "SentencePiece pieces to train", std::to_string(a.vocabPieces))
        .flag("--case-fold", "the trained tokenizer folds case (for lowercased data such as SST-2)")
        .option("--d-model", "N", "hidden size", std::to_string(a.dModel))
        .option("--layers", "N", "encoder blocks", std::to_string(a.numLayers))
        .option("--heads", "N", "attention heads", std::to_string(a.numHeads))
        .option("--d-kv", "N", "size of each head", std::to_string(a.dKv))
        .option("--d-ff", "N", "feed-forward size (dense blocks and experts)", std::to_string(a.dFf))
        .option("--experts", "N", "experts per MoE layer", std::to_string(a.numExperts))
        .option("--sparse-step", "N", "MoE at blocks 1, 1+N, ... (1: every block; 0: none)",
                std::to_string(a.sparseStep))
        .option("--capacity", "N", "expert capacity per sequence", std::to_string(a.expertCapacity))
        .option("--jitter", "X", "router jitter noise", std::to_string(o.routerJitter))
        .option("--aux-weight", "X", "load-balancing loss weight", std::to_string(o.loadBalanceWeight))
        .option("--z-weight", "X", "router z-loss weight", std::to_string(o.zLossWeight))
        .option("--token-routing", "X",
                "weight of the token-routing aid (makes routes easier to predict; 0: off)",
                std::to_string(o.tokenRoutingWeight))
        .option("--storage", "T", "dtype of model.safetensors: bfloat16 or float32", d.storageDType)
        .flag("--resume", "continue the run saved in --out");
    addOptimizerOptions(parser, o);
    addDataOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;
    if (!args->optional("--data") || !args->optional("--out"))
        throw UsageError("--data and --out are required");

    TrainOptions options;
    options.trainData = args->get("--data");
    options.devData = args->get("--dev");
    options.outDir = args->get("--out");
    if (const auto t = args->optional("--tokenizer")) options.tokenizer = *t;
    options.dataOptions = dataOptionsFrom(*args);
    options.labelNames = splitList(args->get("--label-names"));
    ArchitectureOptions& arch = options.architecture;
    arch.vocabPieces = args->integer("--vocab", 16, 1000000);
    arch.caseFold = args->has("--case-fold");
    arch.dModel = args->integer("--d-model", 1, 8192);
    arch.numLayers = args->integer("--layers", 1, 64);
    arch.numHeads = args->integer("--heads", 1, 256);
    arch.dKv = args->integer("--d-kv", 1, 1024);
    arch.dFf = args->integer("--d-ff", 1, 65536);
    arch.numExperts = args->integer("--experts", 1, 4096);
    arch.sparseStep = args->integer("--sparse-step", 0, 64);
    arch.expertCapacity = args->integer("--capacity", 1, 1000000);
    options.optimizer = optimizerOptionsFrom(*args, o);
    options.optimizer.routerJitter = args->number("--jitter", 0, 0.99);
    options.optimizer.loadBalanceWeight = args->number("--aux-weight", 0, 100);
    options.optimizer.zLossWeight = args->number("--z-weight", 0, 100);
    options.optimizer.tokenRoutingWeight = args->number("--token-routing", 0, 1000);
    options.maxLength = args->integer("--max-length", 4, 4096);
    options.seed = static_cast<uint64_t>(args->integer("--seed", 0, INT64_MAX));
    options.threads = static_cast<int>(args->integer("--threads", 0, 1024));
    options.device = args->get("--device");
    options.storageDType = args->get("--storage");
    options.resume = args->has("--resume");
    options.command = commandLine("train", arguments);

    ProgressBar bar("steps");
    options.onEpoch = [&](const EpochMetrics& m) {
        bar.finishLine();
        printEpoch(m, options.optimizer.epochs);
    };
    const CancelToken cancel = installInterruptHandler();
    const TrainResult result = trainClassifier(options, bar.callback(), cancel);
    bar.finishLine();
    if (result.interrupted) {
        std::cout << "interrupted: training state saved in " << (options.outDir / "training-state").string()
                  << "; run the same command with --resume to continue\n";
        return 130;
    }
    std::printf("done in %s: best dev accuracy %.4f (epoch %d), model in %s\n",
                minutes(result.seconds).c_str(), result.bestDevAccuracy, result.bestEpoch,
                options.outDir.string().c_str());
    return 0;
}

int runFinetune(const Arguments& arguments) {
    const FinetuneOptions d;
    OptimizerOptions o = d.optimizer;
    o.learningRate = 1e-4;
    o.warmupSteps = 100;
    ArgParser parser(
        "finetune", "MODEL_DIR --data TRAIN --out DIR [--dev DEV] [options]",
        "Fine-tune an existing Switch Transformers checkpoint (for example a google/switch-base-8\n"
        "you converted to safetensors) for classification: a fresh head for the labels found in\n"
        "the data, then the whole model (or only the head) trained. Runs on CUDA when present.");
    parser
        .positionals("MODEL_DIR", "the checkpoint folder (config.json, model.safetensors, spiece.model)", 1,
                     1)
        .option("--data", "TRAIN", "training data")
        .option("--dev", "DEV", "dev data, evaluated after every epoch")
        .option("--out", "DIR", "the model folder to write")
        .option("--storage", "T", "dtype of model.safetensors: float32 or bfloat16", d.storageDType)
        .flag("--head-only", "train only the classification head");
    addOptimizerOptions(parser, o);
    addDataOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;
    if (!args->optional("--data") || !args->optional("--out"))
        throw UsageError("--data and --out are required");

    FinetuneOptions options;
    options.modelDir = args->positionals().front();
    options.trainData = args->get("--data");
    options.devData = args->get("--dev");
    options.outDir = args->get("--out");
    options.dataOptions = dataOptionsFrom(*args);
    options.labelNames = splitList(args->get("--label-names"));
    options.optimizer = optimizerOptionsFrom(*args, o);
    options.optimizer.headOnly = args->has("--head-only");
    options.maxLength = args->integer("--max-length", 4, 4096);
    options.seed = static_cast<uint64_t>(args->integer("--seed", 0, INT64_MAX));
    options.threads = static_cast<int>(args->integer("--threads", 0, 1024));
    options.device = args->get("--device");
    options.storageDType = args->get("--storage");
    options.command = commandLine("finetune", arguments);
    ProgressBar bar("steps");
    options.onEpoch = [&](const EpochMetrics& m) {
        bar.finishLine();
        printEpoch(m, options.optimizer.epochs);
    };
    const TrainResult result = finetuneClassifier(options, bar.callback(), installInterruptHandler());
    bar.finishLine();
    if (result.interrupted) {
        std::cout << "interrupted: the best model so far is in " << options.outDir.string() << "\n";
        return 130;
    }
    std::printf("done in %s: best dev accuracy %.4f, model in %s\n", minutes(result.seconds).c_str(),
                result.bestDevAccuracy, options.outDir.string().c_str());
    return 0;
}

} // namespace sida::cli
