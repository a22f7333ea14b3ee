// SPDX-License-Identifier: MIT
// sida eval: accuracy, F1, confusion matrix and expert usage of a model on a labeled data set.
#include "commands.h"
#include "progress_bar.h"

#include "sida/evaluate.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace sida::cli {
namespace {

nlohmann::json toJson(const EvalReport& r) {
    nlohmann::json j;
    j["n"] = r.n;
    j["accuracy"] = r.accuracy;
    j["f1"] = r.macroF1;
    j["labels"] = r.labels;
    j["confusion"] = r.confusion;
    j["layers"] = nlohmann::json::array();
    for (const LayerUsage& l : r.layers)
        j["layers"].push_back({{"block", l.block},
                               {"tokens_per_expert", l.tokensPerExpert},
                               {"entropy", l.entropy},
                               {"normalized_entropy", l.normalizedEntropy},
                               {"min_share", l.minShare}});
    j["activation_by_length"] = nlohmann::json::array();
    for (const ActivationByLength& a : r.activation)
        j["activation_by_length"].push_back(
            {{"length", a.length}, {"sentences", a.sentences}, {"active_fraction", a.activeFraction}});
    j["skipped"] = nlohmann::json::array();
    for (const RowProblem& p : r.skipped) j["skipped"].push_back({{"line", p.line}, {"message", p.message}});
    j["seconds"] = r.seconds;
    return j;
}

void printHistogram(const LayerUsage& layer) {
    int64_t total = 0, most = 1;
    for (int64_t c : layer.tokensPerExpert) {
        total += c;
        most = std::max(most, c);
    }
    std::printf("MoE block %lld: normalized entropy %.3f, least-used expert %.2f%% of tokens\n",
                static_cast<long long>(layer.block), layer.normalizedEntropy, layer.minShare * 100);
    for (size_t e = 0; e < layer.tokensPerExpert.size(); ++e) {
        const int64_t c = layer.tokensPerExpert[e];
        std::printf("  expert %3zu %6.2f%% %s\n", e, total ? 100.0 * c / total : 0.0,
                    std::string(static_cast<size_t>(40.0 * c / most), '#').c_str());
    }
}

void printHuman(const EvalReport& r) {
    std::printf("examples   %lld\naccuracy   %.4f\nmacro F1   %.4f\n\nconfusion (rows: true label, columns: "
                "predicted)\n",
                static_cast<long long>(r.n), r.accuracy, r.macroF1);
    std::printf("%16s", "");
    for (const auto& l : r.labels) std::printf(" %12.12s", l.c_str());
    std::printf("\n");
    for (size_t i = 0; i < r.labels.size(); ++i) {
        std::printf("%16.16s", r.labels[i].c_str());
        for (int64_t v : r.confusion[i]) std::printf(" %12lld", static_cast<long long>(v));
        std::printf("\n");
    }
    std::printf("\nexpert usage (tokens routed to each expert)\n");
    for (const LayerUsage& layer : r.layers) printHistogram(layer);
    std::printf("\nfraction of experts a sentence activates, by length (mean over MoE layers)\n  length "
                "sentences active\n");
    for (const ActivationByLength& a : r.activation)
        std::printf("  %6lld %9lld %6.3f\n", static_cast<long long>(a.length),
                    static_cast<long long>(a.sentences), a.activeFraction);
}

} // namespace

int runEval(const Arguments& arguments) {
    ArgParser parser("eval", "[MODEL_DIR] --data FILE [options]",
                     "Evaluate a classifier on a labeled TSV/CSV: accuracy, macro F1, confusion matrix,\n"
                     "each MoE layer's expert-usage histogram, and the fraction of experts a sentence\n"
                     "activates versus its length (the SiDA paper's Fig. 4). Without MODEL_DIR, the bundled\n"
                     "demo model. Malformed rows are reported with their line numbers and skipped (or\n"
                     "fatal with --strict).");
    parser.positionals("MODEL_DIR", "the model folder", 0, 1)
        .option("--data", "FILE", "labeled data (GLUE layouts are detected)")
        .option("--batch", "N", "examples per forward pass", "64")
        .option("--limit", "N", "evaluate only the first N examples")
        .flag("--json", "print one JSON object (accuracy, f1, n, confusion, layers, ...)");
    addDataOptions(parser);
    addLoadOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;
    if (!args->optional("--data")) throw UsageError("--data is required");
    DatasetOptions dataOptions = dataOptionsFrom(*args);
    if (args->optional("--limit")) dataOptions.limit = args->integer("--limit", 1, INT64_MAX);
    const int batch = static_cast<int>(args->integer("--batch", 1, 65536));
    const auto& positional = args->positionals();
    const auto dir = resolveModelDir(positional.empty() ? std::nullopt : std::optional(positional[0]));

    const Dataset data = readDataset(args->get("--data"), dataOptions);
    const auto model = loadModel(dir, loadOptionsFrom(*args));
    ProgressBar bar("examples");
    const EvalReport report = evaluate(*model, data, batch, bar.callback(), installInterruptHandler());
    bar.finishLine();
    if (args->has("--json")) {
        std::cout << toJson(report).dump(2) << "\n";
    } else {
        printHuman(report);
        reportProblems(report.skipped, args->get("--data"));
    }
    return 0;
}

} // namespace sida::cli
