// SPDX-License-Identifier: MIT
// sida: the headless command line of SiDA Studio, on the same engine as the app.
#include "commands.h"

#include "sida/device.h"
#include "sida/errors.h"

#include <functional>
#include <iostream>

namespace {

struct Command {
    const char* name;
    const char* summary;
    std::function<int(const sida::cli::Arguments&)> run;
};

const std::vector<Command>& commands() {
    static const std::vector<Command> all{
        {"info", "describe a model folder (architecture, parameters, experts)", sida::cli::runInfo},
        {"classify", "classify texts with a model", sida::cli::runClassify},
        {"eval", "accuracy, F1 and expert usage on a labeled data set", sida::cli::runEval},
        {"train", "train a Switch classifier (and tokenizer) from scratch", sida::cli::runTrain},
        {"finetune", "fine-tune an existing Switch checkpoint for classification", sida::cli::runFinetune},
        {"collect", "store a model's router logits over a data set", sida::cli::runCollect},
        {"train-predictor", "train the SiDA predictor by truncated distillation",
         sida::cli::runTrainPredictor},
        {"eval-predictor", "hit rates of the predictor against the routers", sida::cli::runEvalPredictor},
        {"bench", "throughput, latency and expert memory of the serving policies", sida::cli::runBench},
    };
    return all;
}

void printUsage(std::ostream& out) {
    out << "usage: sida [--version] [--help] COMMAND [ARGS]\n\n"
           "SiDA Studio's command line: run Switch Transformers MoE classifiers the SiDA way.\n\n"
           "commands:\n";
    for (const Command& c : commands())
        out << "  " << c.name << std::string(18 - std::string(c.name).size(), ' ') << c.summary << "\n";
    out << "\nRun 'sida COMMAND --help' for a command's options. Without a model folder, commands use\n"
           "the bundled demo model.\n";
}

int printVersion() {
    const auto v = sida::runtimeVersions();
    std::cout << "sida " << v.sida << " (LibTorch " << v.libtorch << ", CUDA " << v.cuda << ")\n";
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> arguments(argv + 1, argv + argc);
    if (arguments.empty()) {
        printUsage(std::cerr);
        return 2;
    }
    const std::string& first = arguments.front();
    if (first == "--version" || first == "version") return printVersion();
    if (first == "--help" || first == "-h" || first == "help") {
        printUsage(std::cout);
        return 0;
    }
    for (const Command& command : commands()) {
        if (first != command.name) continue;
        try {
            return command.run({arguments.begin() + 1, arguments.end()});
        } catch (const sida::cli::UsageError& e) {
            std::cerr << "sida " << first << ": " << e.what() << "\n(see 'sida " << first << " --help')\n";
            return 2;
        } catch (const sida::Cancelled&) {
            std::cerr << "sida " << first << ": cancelled\n";
            return 130;
        } catch (const std::exception& e) {
            std::cerr << "sida " << first << ": error: " << e.what() << "\n";
            return 1;
        }
    }
    std::cerr << "sida: unknown command '" << first << "'\n\n";
    printUsage(std::cerr);
    return 2;
}
