// SPDX-License-Identifier: MIT
#include "synthetic_model.h"

#include "sida/errors.h"
#include "sida/synthetic.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sida::cli {
namespace {

std::filesystem::path cacheRoot() {
    const char* cache = std::getenv("XDG_CACHE_HOME");
    if (cache && *cache) return std::filesystem::path(cache) / "sida-studio" / "synthetic";
    const char* home = std::getenv("HOME");
    if (!home || !*home) throw UsageError("--synthetic: neither XDG_CACHE_HOME nor HOME is set");
    return std::filesystem::path(home) / ".cache" / "sida-studio" / "synthetic";
}

SyntheticOptions optionsFrom(const Args& args, const std::string& name) {
    SyntheticOptions options;
    try {
        options.shape = syntheticShape(name);
    } catch (const Error& e) {
        throw UsageError(std::string("--synthetic: ") + e.what());
    }
    options.context = args.number("--synthetic-context", 0, 4);
    return options;
}

// The sentences whose routes teach the predictor: --synthetic-train, else (switch-base only, whose
// predictor takes minutes) train.tsv beside the --data file when there is one.
std::optional<std::filesystem::path> predictorData(const Args& args, const SyntheticOptions& options) {
    if (const auto named = args.optional("--synthetic-train")) {
        if (!std::filesystem::is_regular_file(*named))
            throw UsageError("--synthetic-train: '" + *named + "' is not a file");
        return std::filesystem::path(*named);
    }
    if (options.shape.name.rfind("switch-base-", 0) != 0) return std::nullopt;
    const auto beside = std::filesystem::path(args.get("--data")).parent_path() / "train.tsv";
    if (std::filesystem::is_regular_file(beside)) return beside;
    return std::nullopt;
}

std::string defaultContext() {
    char text[16];
    std::snprintf(text, sizeof text, "%g", kDefaultSyntheticContext);
    return text;
}

void printRouting(const SyntheticPredictorResult& r) {
    std::fprintf(stderr, "routers: token purity %.4f, routes following the token table %.4f (%lld tokens)\n",
                 r.routing.meanPurity(), r.routing.meanTableAgreement(),
                 static_cast<long long>(r.routing.tokens));
    std::fprintf(stderr, "predictor: held-out top-1 %.4f, top-3 %.4f (%s in %.0f s)\n", r.devTop1, r.devTop3,
                 r.reused ? "made earlier" : "made", r.seconds);
}

} // namespace

void addSyntheticOptions(ArgParser& parser) {
    parser
        .option("--synthetic", "NAME",
                "switch-base-N or switch-large-N (N experts): seeded weights, routers by token")
        .option("--synthetic-context", "K",
                "0..4: how strongly context steers the synthetic routers (0: by token id alone)",
                defaultContext())
        .option("--synthetic-train", "FILE",
                "sentences whose routes train its predictor (default: train.tsv beside --data)")
        .option("--synthetic-sentences", "N", "sentences the predictor learns from", "3000");
}

std::optional<std::filesystem::path> syntheticModelFrom(const Args& args, const LoadOptions& load,
                                                        ProgressBar& bar) {
    const auto name = args.optional("--synthetic");
    if (!name) {
        for (const char* option : {"--synthetic-context", "--synthetic-train", "--synthetic-sentences"})
            if (args.optional(option)) throw UsageError(std::string(option) + " needs --synthetic");
        return std::nullopt;
    }
    if (!args.positionals().empty()) throw UsageError("give a model folder or --synthetic, not both");
    const SyntheticOptions options = optionsFrom(args, *name);
    const auto bundled = defaultModelDir();
    if (bundled.empty())
        throw UsageError("--synthetic needs a tokenizer: the bundled demo model was not found");
    const auto dir = cacheRoot() / syntheticCacheKey(options);
    std::fprintf(stderr, "synthetic model: %s\n", dir.string().c_str());
    const CancelToken cancel = installInterruptHandler();
    writeSyntheticSwitch(options, dir, bundled / "spiece.model", bar.callback(), cancel);
    bar.finishLine();

    SyntheticPredictorOptions predictor;
    predictor.sentences = args.integer("--synthetic-sentences", 64, 10'000'000);
    predictor.threads = load.threads;
    predictor.device = load.device;
    const auto data = predictorData(args, options);
    if (!data) {
        std::fprintf(stderr, "no predictor made (policies sida and sida-exact need one): "
                             "give --synthetic-train FILE\n");
        return dir;
    }
    predictor.trainData = *data;
    const SyntheticPredictorResult result =
        ensureSyntheticPredictor(dir, options, predictor, bar.callback(), cancel);
    bar.finishLine();
    printRouting(result);
    return dir;
}

} // namespace sida::cli
