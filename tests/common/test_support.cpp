// SPDX-License-Identifier: MIT
#include "test_support.h"

#include "sida/errors.h"
#include "sida/predictor.h"

#include <QProcess>
#include <QtTest>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

namespace sida::test {

std::filesystem::path fixture(const std::string& relative) {
    return std::filesystem::path(SIDA_FIXTURES_DIR) / relative;
}

std::filesystem::path glue(const std::string& relative) {
    return std::filesystem::path(SIDA_GLUE_DIR) / relative;
}

std::vector<std::string> hfFixtureModels() {
    return {"e4-step2-fp32", "e8-step1-bias-fp32", "e8-step2-bf16", "e4-step2-sharded", "e4-capacity3"};
}

namespace {

double bf16ToDouble(uint16_t bits) {
    const uint32_t widened = static_cast<uint32_t>(bits) << 16;
    float value;
    std::memcpy(&value, &widened, sizeof value);
    return value;
}

} // namespace

ReferenceTensor readReference(const SafetensorsFile& file, const std::string& name) {
    const TensorInfo* info = file.header().find(name);
    if (!info) throw Error("reference tensor '" + name + "' missing from " + file.path().string());
    const auto bytes = file.data(*info);
    ReferenceTensor tensor{info->shape, {}};
    const size_t n = info->numel();
    tensor.values.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const std::byte* p = bytes.data() + i * dtypeSize(info->dtype);
        if (info->dtype == DType::F32) {
            float v;
            std::memcpy(&v, p, 4);
            tensor.values[i] = v;
        } else if (info->dtype == DType::I64) {
            int64_t v;
            std::memcpy(&v, p, 8);
            tensor.values[i] = static_cast<double>(v);
        } else if (info->dtype == DType::BF16) {
            uint16_t v;
            std::memcpy(&v, p, 2);
            tensor.values[i] = bf16ToDouble(v);
        } else {
            throw Error("reference tensor '" + name + "' has an unexpected dtype");
        }
    }
    return tensor;
}

std::filesystem::path copyModel(const std::filesystem::path& source, const QTemporaryDir& dir,
                                const std::string& name) {
    const auto target = std::filesystem::path(dir.path().toStdString()) / name;
    std::filesystem::create_directories(target);
    for (const auto& entry : std::filesystem::directory_iterator(source))
        std::filesystem::copy_file(std::filesystem::canonical(entry.path()),
                                   target / entry.path().filename());
    return target;
}

std::vector<std::string> syntheticSentences(size_t count, uint64_t seed) {
    static const char* words[] = {"the",  "film",   "is",     "a",     "great", "dull", "story",
                                  "with", "moving", "acting", "never", "funny", "and",  "boring",
                                  "plot", "of",     "charm",  "bad",   "good",  "music"};
    std::mt19937_64 rng(seed);
    std::vector<std::string> out;
    for (size_t i = 0; i < count; ++i) {
        std::string s;
        const size_t length = 3 + rng() % 14;
        for (size_t w = 0; w < length; ++w) s += std::string(w ? " " : "") + words[rng() % 20];
        out.push_back(s);
    }
    return out;
}

std::filesystem::path fixtureWithPredictor(const QTemporaryDir& dir) {
    const auto model = copyModel(fixture("hf/e4-step2-fp32"), dir, "model-with-predictor");
    const auto data = std::filesystem::path(dir.path().toStdString()) / "predictor-train.txt";
    {
        std::ofstream out(data);
        for (const auto& s : syntheticSentences(96, 11)) out << s << "\n";
    }
    PredictorTrainOptions options;
    options.modelDir = model;
    options.trainData = data;
    options.dataOptions.requireLabels = false;
    options.architecture.hidden = 16;
    options.architecture.lstmLayers = 1;
    options.epochs = 1;
    options.learningRate = 1e-3;
    options.device = "cpu";
    options.threads = 1;
    trainPredictor(options);
    return model;
}

std::string readFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeFile(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

int runCli(const std::vector<std::string>& arguments, std::string* out, std::string* err,
           const std::string& stdinText) {
    QProcess process;
    QStringList args;
    for (const auto& a : arguments) args << QString::fromStdString(a);
    process.start(QStringLiteral(SIDA_CLI_PATH), args);
    if (!process.waitForStarted(10000)) return -1;
    if (!stdinText.empty()) process.write(stdinText.data(), static_cast<qint64>(stdinText.size()));
    process.closeWriteChannel();
    if (!process.waitForFinished(300000)) {
        process.kill();
        return -2;
    }
    if (out) *out = process.readAllStandardOutput().toStdString();
    if (err) *err = process.readAllStandardError().toStdString();
    return process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -3;
}

void writeRows(const std::filesystem::path& source, const std::filesystem::path& target, int first,
               int count) {
    std::ifstream in(source, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + source.string() + " (is ../shared/data/glue there?)");
    std::ofstream out(target, std::ios::binary);
    std::string line;
    std::getline(in, line);
    out << line << '\n';
    for (int row = 0; row < first + count && std::getline(in, line); ++row)
        if (row >= first) out << line << '\n';
}

QString errorProblem(const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
        f();
    } catch (const Error& e) {
        const std::string message = e.what();
        for (const std::string& part : parts)
            if (message.find(part) == std::string::npos)
                return QString::fromStdString("message lacks '" + part + "': " + message);
        return {};
    } catch (const std::exception& e) {
        return QStringLiteral("threw something other than sida::Error: ") + e.what();
    }
    return QStringLiteral("no error");
}

} // namespace sida::test
