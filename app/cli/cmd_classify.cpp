// SPDX-License-Identifier: MIT
// sida classify: label texts from the command line or a file.
#include "commands.h"

#include "sida/errors.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iomanip>
#include <iostream>

namespace sida::cli {
namespace {

// One input per line; a tab separates the two sentences of a pair.
TextInput parseLine(const std::string& line) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) return {line, std::nullopt};
    return {line.substr(0, tab), line.substr(tab + 1)};
}

std::vector<TextInput> readInputFile(const std::string& path) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (path != "-") {
        // Opening a folder succeeds on Linux and reads nothing, which would look like an empty file.
        if (std::filesystem::is_directory(path)) throw Error("input file '" + path + "' is a folder");
        file.open(path, std::ios::binary);
        if (!file) throw Error("cannot read input file '" + path + "'");
        in = &file;
    }
    std::vector<TextInput> inputs;
    std::string line;
    while (std::getline(*in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (inputs.empty() && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        inputs.push_back(parseLine(line));
    }
    return inputs;
}

nlohmann::json toJson(size_t index, const TextInput& input, const Classification& r,
                      const std::vector<std::string>& labels) {
    nlohmann::json j;
    j["index"] = index;
    j["text"] = validUtf8(input.text);
    if (input.pair) j["pair"] = validUtf8(*input.pair);
    if (!r.ok()) {
        j["error"] = r.error;
        return j;
    }
    j["label"] = r.labelName;
    j["label_id"] = r.label;
    j["confidence"] = r.confidence;
    nlohmann::json probabilities = nlohmann::json::object();
    for (size_t i = 0; i < labels.size(); ++i) probabilities[labels[i]] = r.probabilities[i];
    j["probabilities"] = probabilities;
    j["tokens"] = r.tokens;
    j["truncated"] = r.truncated;
    return j;
}

} // namespace

int runClassify(const Arguments& arguments) {
    ArgParser parser("classify", "[MODEL_DIR] [options] TEXT... | --file PATH",
                     "Classify texts with a Switch Transformers classifier and print the label and\n"
                     "confidence of each, in input order. MODEL_DIR (or --model) names the model\n"
                     "folder; without it, the bundled demo model. A tab inside a text separates the\n"
                     "two sentences of a pair. An input that cannot be classified (empty, not UTF-8)\n"
                     "gets an error line; the others are still classified, and the exit status is 1.\n"
                     "Inputs run through the SiDA serving pipeline: --policy chooses how experts are\n"
                     "chosen and fetched (sida and sida-exact need the model's predictor).");
    parser.positionals("[MODEL_DIR] TEXT...", "texts to classify (the first may be a model folder)", 0, -1)
        .option("--model", "DIR", "the model folder")
        .option("--file", "PATH", "read one input per line from PATH ('-' for standard input)")
        .flag("--json", "print one JSON object per input (label, confidence, probabilities)");
    addServingOptions(parser, "standard");
    addLoadOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;

    std::vector<std::string> texts = args->positionals();
    std::optional<std::string> modelDir = args->optional("--model");
    if (!modelDir && !texts.empty() && std::filesystem::is_directory(texts.front()) &&
        std::filesystem::exists(std::filesystem::path(texts.front()) / "config.json")) {
        modelDir = texts.front();
        texts.erase(texts.begin());
    }
    std::vector<TextInput> inputs;
    if (const auto file = args->optional("--file")) {
        if (!texts.empty()) throw UsageError("give texts or --file, not both");
        inputs = readInputFile(*file);
    } else {
        for (const auto& t : texts) inputs.push_back(parseLine(t));
    }
    if (inputs.empty()) throw UsageError("nothing to classify: give TEXT arguments or --file PATH");
    const PipelineOptions options = servingOptionsFrom(*args);
    TraceWriter traces(args->optional("--trace"));

    const auto model = loadModel(resolveModelDir(modelDir), loadOptionsFrom(*args));
    std::vector<Classification> results(inputs.size());
    {
        Pipeline pipeline(
            model, options, [&](const RequestResult& r) { results[std::stoul(r.tag)] = r.classification; },
            traces.observer());
        std::vector<Request> requests;
        for (size_t i = 0; i < inputs.size(); ++i)
            requests.push_back({inputs[i].text, inputs[i].pair, std::to_string(i)});
        pipeline.submit(std::move(requests));
        pipeline.waitIdle();
    }
    bool allOk = true;
    for (size_t i = 0; i < results.size(); ++i) {
        const Classification& r = results[i];
        allOk = allOk && r.ok();
        if (args->has("--json")) {
            std::cout << toJson(i, inputs[i], r, model->info().labels).dump() << "\n";
        } else if (r.ok()) {
            std::cout << r.labelName << "\t" << std::fixed << std::setprecision(4) << r.confidence << "\t"
                      << inputs[i].text << (inputs[i].pair ? "\t" + *inputs[i].pair : "") << "\n";
        } else {
            std::cout << "error\t" << r.error << "\t" << validUtf8(inputs[i].text) << "\n";
        }
    }
    return allOk ? 0 : 1;
}

} // namespace sida::cli
