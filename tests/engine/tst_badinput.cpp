// SPDX-License-Identifier: MIT
// Broken model folders and unusable texts: Model::load must throw a sida::Error naming the file
// and the tensor or field at fault (never crash, never throw anything else), and classify must
// give a per-input error while still classifying the other inputs of the same call.
#include "test_printers.h"
#include "test_support.h"

#include "sida/errors.h"
#include "sida/model.h"
#include "sida/pipeline.h"

#include <QElapsedTimer>
#include <QtTest>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace sida;

namespace {

const std::string kModel = "hf/e4-step2-fp32";
const std::string kShardedModel = "hf/e4-step2-sharded";

LoadOptions cpu() { return {.device = "cpu", .threads = 1}; }

std::string littleEndian64(uint64_t value) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
    return bytes;
}

// Loads `dir`; returns "" when every part is in the sida::Error's message, else what went wrong.
QString loadFailsWith(const std::filesystem::path& dir, const std::vector<std::string>& parts,
                      const LoadOptions& options = cpu()) {
    return test::errorProblem([&] { Model::load(dir, options); }, parts);
}

#define QVERIFY_LOAD_FAILS(dir, ...)                                                                         \
    do {                                                                                                     \
        const QString problem = loadFailsWith(dir, __VA_ARGS__);                                             \
        QVERIFY2(problem.isEmpty(), qPrintable(problem));                                                    \
    } while (false)

// One tensor entry of a safetensors header, as text fields, so that a test can corrupt it.
struct RawEntry {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;
};

// Rewrites the header of a safetensors file through `edit`, keeping its data buffer as it is.
void rewriteHeader(const std::filesystem::path& path,
                   const std::function<void(std::vector<RawEntry>&)>& edit) {
    std::vector<RawEntry> entries;
    uint64_t dataOffset = 0;
    {
        const SafetensorsFile file(path); // unmapped before the file is rewritten
        dataOffset = file.header().dataOffset;
        for (const TensorInfo& t : file.header().tensors)
            entries.push_back({t.name, dtypeName(t.dtype), t.shape, t.begin, t.end});
    }
    edit(entries);
    std::string header = R"({"__metadata__":{"format":"pt"})";
    for (const RawEntry& e : entries) {
        std::string shape;
        for (size_t i = 0; i < e.shape.size(); ++i) shape += (i ? "," : "") + std::to_string(e.shape[i]);
        header += ",\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[" + shape +
                  "],\"data_offsets\":[" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]}";
    }
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');
    const std::string data = test::readFile(path).substr(dataOffset);
    test::writeFile(path, littleEndian64(header.size()) + header + data);
}

RawEntry& entryNamed(std::vector<RawEntry>& entries, const std::string& name) {
    for (RawEntry& e : entries)
        if (e.name == name) return e;
    throw Error("test: no tensor '" + name + "' in the fixture");
}

// Replaces `"key": value` in a config.json; false when the key is not there.
bool setConfigField(const std::filesystem::path& dir, const std::string& key, const std::string& value) {
    const auto path = dir / "config.json";
    const std::string text = test::readFile(path);
    const std::regex field("\"" + key + "\"\\s*:\\s*[^,\\n}]+");
    if (!std::regex_search(text, field)) return false;
    test::writeFile(path, std::regex_replace(text, field, "\"" + key + "\": " + value));
    return true;
}

// Overwrites bytes of one tensor's data in place.
void overwriteTensorBytes(const std::filesystem::path& file, const std::string& tensor, size_t byteOffset,
                          const std::string& bytes) {
    uint64_t at = 0;
    {
        const SafetensorsFile f(file);
        const TensorInfo* info = f.header().find(tensor);
        if (!info) throw Error("test: no tensor '" + tensor + "'");
        at = f.header().dataOffset + info->begin + byteOffset;
    }
    std::string content = test::readFile(file);
    content.replace(at, bytes.size(), bytes);
    test::writeFile(file, content);
}

std::string floatBytes(float value) {
    std::string bytes(sizeof value, '\0');
    std::memcpy(bytes.data(), &value, sizeof value);
    return bytes;
}

TextInput single(const std::string& text) { return {text, std::nullopt}; }

bool sameProbabilities(const Classification& a, const Classification& b) {
    if (a.probabilities.size() != b.probabilities.size()) return false;
    for (size_t i = 0; i < a.probabilities.size(); ++i)
        if (std::abs(a.probabilities[i] - b.probabilities[i]) > 1e-6) return false;
    return a.label == b.label;
}

} // namespace

class BadInputTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void intactCopyLoads();
    void truncatedSafetensors();
    void headerLengthPastEndOfFile();
    void overlappingOffsets();
    void unknownDType_data();
    void unknownDType();
    void dtypeSiDADoesNotCompute_data();
    void dtypeSiDADoesNotCompute();
    void shapeContradictsConfig();
    void missingExpertTensor();
    void nonFiniteWeight_data();
    void nonFiniteWeight();
    void nonFiniteExpertFailsTheBatchesThatReadIt();
    void missingTokenizer();
    void emptyTokenizer();
    void badConfig_data();
    void badConfig();
    void absurdConfigRefusedBeforeAllocating_data();
    void absurdConfigRefusedBeforeAllocating();
    void configLargerThanCheckpoint();
    void shardOutsideTheFolder();
    void missingShard();
    void pickleWeightsOnly();
    void missingFolder();
    void malformedPredictorJson_data();
    void malformedPredictorJson();
    void namedPipeRefusedWithoutBlocking_data();
    void namedPipeRefusedWithoutBlocking();
    void hugeSparseJsonRefusedUnread_data();
    void hugeSparseJsonRefusedUnread();
    void randomHeaderCorruptionNeverCrashes();
    void badTextsGetTheirOwnError();
    void longTextIsTruncated();

private:
    QTemporaryDir temp_;
    std::shared_ptr<Model> model_;
    int copies_ = 0;
    std::filesystem::path copyOf(const std::string& fixture) {
        return test::copyModel(test::fixture(fixture), temp_, "copy" + std::to_string(++copies_));
    }
};

void BadInputTest::initTestCase() {
    QVERIFY(temp_.isValid());
    model_ = Model::load(test::fixture(kModel), cpu());
}

// The copies themselves are sound, so each failure below is the corruption's doing.
void BadInputTest::intactCopyLoads() {
    for (const std::string& fixture : {kModel, kShardedModel}) {
        const auto dir = copyOf(fixture);
        QCOMPARE(Model::load(dir, cpu())->info().moeBlocks, (std::vector<int64_t>{1, 3}));
    }
    const auto dir = copyOf(kModel);
    rewriteHeader(dir / "model.safetensors", [](std::vector<RawEntry>&) {});
    QCOMPARE(Model::load(dir, cpu())->info().parameters, model_->info().parameters);
}

void BadInputTest::truncatedSafetensors() {
    const auto dir = copyOf(kModel);
    const auto file = dir / "model.safetensors";
    const std::string bytes = test::readFile(file);
    test::writeFile(file, bytes.substr(0, bytes.size() - 100));
    QVERIFY_LOAD_FAILS(dir, {file.string(), "truncated"});
    // Cut inside the header, too.
    test::writeFile(file, bytes.substr(0, 200));
    QVERIFY_LOAD_FAILS(dir, {file.string(), "header length"});
    test::writeFile(file, bytes.substr(0, 5));
    QVERIFY_LOAD_FAILS(dir, {file.string(), "too small"});
}

void BadInputTest::headerLengthPastEndOfFile() {
    const auto dir = copyOf(kModel);
    const auto file = dir / "model.safetensors";
    std::string bytes = test::readFile(file);
    bytes.replace(0, 8, littleEndian64(bytes.size()));
    test::writeFile(file, bytes);
    QVERIFY_LOAD_FAILS(dir, {file.string(), "runs past the end"});
    bytes.replace(0, 8, littleEndian64(uint64_t(1) << 40));
    test::writeFile(file, bytes);
    QVERIFY_LOAD_FAILS(dir, {file.string(), "exceeds the limit"});
}

void BadInputTest::overlappingOffsets() {
    const auto dir = copyOf(kModel);
    const auto file = dir / "model.safetensors";
    std::string moved;
    rewriteHeader(file, [&](std::vector<RawEntry>& entries) {
        RawEntry& second = entries[1];
        second.begin -= 4;
        second.end -= 4;
        moved = second.name;
    });
    QVERIFY_LOAD_FAILS(dir, {file.string(), "tensor '" + moved + "'", "overlaps"});
}

void BadInputTest::unknownDType_data() {
    QTest::addColumn<QString>("dtype");
    QTest::newRow("I4") << "I4";
    QTest::newRow("F4") << "F4";
    QTest::newRow("float32 spelled out") << "float32";
}

void BadInputTest::unknownDType() {
    QFETCH(QString, dtype);
    const auto dir = copyOf(kModel);
    const auto file = dir / "model.safetensors";
    const std::string tensor = "encoder.block.1.layer.1.mlp.router.classifier.weight";
    rewriteHeader(file, [&](std::vector<RawEntry>& entries) {
        entryNamed(entries, tensor).dtype = dtype.toStdString();
    });
    QVERIFY_LOAD_FAILS(dir, {file.string(), "tensor '" + tensor + "'", "'" + dtype.toStdString() + "'"});
}

void BadInputTest::dtypeSiDADoesNotCompute_data() {
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<QString>("tensor");
    // Same element size as F32, so the file stays valid and only the loader can object.
    QTest::newRow("I32 embedding") << "I32"
                                   << "shared.weight";
    QTest::newRow("U32 expert") << "U32"
                                << "encoder.block.3.layer.1.mlp.experts.expert_0.wi.weight";
    QTest::newRow("I32 router") << "I32"
                                << "encoder.block.1.layer.1.mlp.router.classifier.weight";
}

void BadInputTest::dtypeSiDADoesNotCompute() {
    QFETCH(QString, dtype);
    QFETCH(QString, tensor);
    const auto dir = copyOf(kModel);
    const auto file = dir / "model.safetensors";
    rewriteHeader(file, [&](std::vector<RawEntry>& entries) {
        entryNamed(entries, tensor.toStdString()).dtype = dtype.toStdString();
    });
    QVERIFY_LOAD_FAILS(dir, {file.string(), "tensor '" + tensor.toStdString() + "'", dtype.toStdString()});
}

void BadInputTest::shapeContradictsConfig() {
    const auto dir = copyOf(kModel);
    QVERIFY(setConfigField(dir, "d_ff", "64"));
    QVERIFY_LOAD_FAILS(dir, {(dir / "model.safetensors").string(), "encoder.block.0.layer.1.mlp.wi.weight",
                             "[48, 32]", "[64, 32]", "config.json"});
}

void BadInputTest::missingExpertTensor() {
    const auto dir = copyOf(kModel);
    const auto file = dir / "model.safetensors";
    const std::string missing = "encoder.block.3.layer.1.mlp.experts.expert_2.wo.weight";
    SafetensorsWriter writer;
    {
        const SafetensorsFile original(file);
        QVERIFY(original.header().find(missing));
        for (const TensorInfo& t : original.header().tensors)
            if (t.name != missing) writer.add(t.name, t.dtype, t.shape, original.data(t));
    }
    writer.write(file);
    QVERIFY_LOAD_FAILS(dir, {file.string(), "'" + missing + "'", "missing"});
}

void BadInputTest::nonFiniteWeight_data() {
    QTest::addColumn<QString>("fixture");
    QTest::addColumn<QString>("tensor");
    QTest::addColumn<QByteArray>("value");
    const std::string nan = floatBytes(std::numeric_limits<float>::quiet_NaN());
    QTest::newRow("NaN in an attention weight")
        << QString::fromStdString(kModel) << "encoder.block.2.layer.0.SelfAttention.q.weight"
        << QByteArray(nan.data(), 4);
    QTest::newRow("NaN in the classifier head")
        << QString::fromStdString(kModel) << "classifier.out_proj.bias" << QByteArray(nan.data(), 4);
    QTest::newRow("bf16 NaN") << "hf/e8-step2-bf16"
                              << "encoder.final_layer_norm.weight" << QByteArray("\xc0\x7f", 2);
    QTest::newRow("NaN in an fp32 router of a bf16 model")
        << "hf/e8-step2-bf16"
        << "encoder.block.3.layer.1.mlp.router.classifier.weight" << QByteArray(nan.data(), 4);
}

void BadInputTest::nonFiniteWeight() {
    QFETCH(QString, fixture);
    QFETCH(QString, tensor);
    QFETCH(QByteArray, value);
    const auto dir = copyOf(fixture.toStdString());
    const auto file = dir / "model.safetensors";
    // The second element: every tensor chosen has at least two.
    overwriteTensorBytes(file, tensor.toStdString(), static_cast<size_t>(value.size()), value.toStdString());
    QVERIFY_LOAD_FAILS(dir, {file.string(), "tensor '" + tensor.toStdString() + "'", "NaN or infinite"});
}

// Experts are read when first needed, not at load: a bad expert fails the batches that read it,
// with an error naming the file and the tensor, and the pipeline goes on serving.
void BadInputTest::nonFiniteExpertFailsTheBatchesThatReadIt() {
    const auto dir = copyOf(kModel);
    const auto file = dir / "model.safetensors";
    const std::string tensor = "encoder.block.1.layer.1.mlp.experts.expert_3.wi.weight";
    const std::string inf = floatBytes(-std::numeric_limits<float>::infinity());
    overwriteTensorBytes(file, tensor, inf.size(), inf);
    LoadOptions load;
    load.device = "cpu";
    const auto model = Model::load(dir, load);
    std::vector<RequestResult> results;
    std::mutex mutex;
    {
        // Standard reads every expert before its first batch.
        Pipeline pipeline(model, {.policy = Policy::Standard, .batchSize = 2}, [&](const RequestResult& r) {
            std::lock_guard lock(mutex);
            results.push_back(r);
        });
        pipeline.submit({{"a fine film", {}, "0"}, {"a dull one", {}, "1"}, {"more", {}, "2"}});
        pipeline.waitIdle();
    }
    QCOMPARE(results.size(), size_t{3});
    for (const RequestResult& r : results) {
        QVERIFY(!r.classification.ok());
        for (const std::string& part :
             {file.string(), "tensor '" + tensor + "'", std::string("NaN or infinite")})
            QVERIFY2(r.classification.error.find(part) != std::string::npos, r.classification.error.c_str());
    }
}

void BadInputTest::missingTokenizer() {
    const auto dir = copyOf(kModel);
    std::filesystem::remove(dir / "spiece.model");
    QVERIFY_LOAD_FAILS(dir, {(dir / "spiece.model").string(), "missing"});
}

void BadInputTest::emptyTokenizer() {
    const auto dir = copyOf(kModel);
    test::writeFile(dir / "spiece.model", "");
    QVERIFY_LOAD_FAILS(dir, {(dir / "spiece.model").string(), "empty"});
    test::writeFile(dir / "spiece.model", "not a sentencepiece model");
    QVERIFY_LOAD_FAILS(dir, {(dir / "spiece.model").string(), "not a SentencePiece model"});
}

void BadInputTest::badConfig_data() {
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("detail");
    QTest::newRow("num_experts 0") << "num_experts"
                                   << "0"
                                   << "field 'num_experts'";
    QTest::newRow("d_model 0") << "d_model"
                               << "0"
                               << "field 'd_model'";
    QTest::newRow("d_kv negative") << "d_kv"
                                   << "-8"
                                   << "field 'd_kv'";
    QTest::newRow("router_dtype int8") << "router_dtype"
                                       << "\"int8\""
                                       << "field 'router_dtype'";
    QTest::newRow("vocab_size below the tokenizer") << "vocab_size"
                                                    << "1000"
                                                    << "vocab_size 1000";
    QTest::newRow("more experts than stored") << "num_experts"
                                              << "5"
                                              << "[4, 32] but config.json implies [5, 32]";
    QTest::newRow("num_layers beyond the checkpoint") << "num_layers"
                                                      << "6"
                                                      << "encoder.block.4";
}

void BadInputTest::badConfig() {
    QFETCH(QString, key);
    QFETCH(QString, value);
    QFETCH(QString, detail);
    const auto dir = copyOf(kModel);
    QVERIFY(setConfigField(dir, key.toStdString(), value.toStdString()));
    QVERIFY_LOAD_FAILS(dir, {detail.toStdString()});
    // The message names the file at fault: config.json, or the weights that contradict it.
    const QString problem = loadFailsWith(dir, {dir.string()});
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void BadInputTest::absurdConfigRefusedBeforeAllocating_data() {
    QTest::addColumn<QString>("field1");
    QTest::addColumn<QString>("value1");
    QTest::addColumn<QString>("field2");
    QTest::addColumn<QString>("value2");
    QTest::addColumn<QStringList>("reason");
    const QStringList memory{"GiB", "available"};
    // Experts are read when needed, so loading needs memory for one of each size only; a billion
    // small experts are refused because the checkpoint cannot hold them.
    QTest::newRow("a billion experts, d_ff 100000") << "num_experts"
                                                    << "1000000000"
                                                    << "d_ff"
                                                    << "100000" << QStringList{"too few for"};
    // Here the parameter count no longer fits in 64 bits.
    QTest::newRow("a billion experts, d_ff a billion") << "num_experts"
                                                       << "1000000000"
                                                       << "d_ff"
                                                       << "1000000000" << memory;
    QTest::newRow("huge vocabulary and width") << "vocab_size"
                                               << "4000000000000"
                                               << "d_model"
                                               << "4000000000" << memory;
    QTest::newRow("int64-sized d_ff") << "d_ff"
                                      << "9223372036854775807"
                                      << "num_experts"
                                      << "8" << memory;
}

// A well-formed but absurd config must be refused from its numbers, before any allocation (a
// LibTorch allocation of petabytes would abort or hang) and before reading the weights.
void BadInputTest::absurdConfigRefusedBeforeAllocating() {
    QFETCH(QString, field1);
    QFETCH(QString, value1);
    QFETCH(QString, field2);
    QFETCH(QString, value2);
    QFETCH(QStringList, reason);
    const auto dir = copyOf(kModel);
    QVERIFY(setConfigField(dir, field1.toStdString(), value1.toStdString()));
    QVERIFY(setConfigField(dir, field2.toStdString(), value2.toStdString()));
    QElapsedTimer timer;
    timer.start();
    std::vector<std::string> parts{dir.string()};
    for (const QString& part : reason) parts.push_back(part.toStdString());
    QVERIFY_LOAD_FAILS(dir, parts);
    QVERIFY2(timer.elapsed() < 10000, "refusing took so long that it probably allocated first");
}

// Small enough to pass the memory check anywhere (under 1 GB), but a million experts over a
// 4-expert checkpoint: refused from the sizes, before a million expert slots are built.
void BadInputTest::configLargerThanCheckpoint() {
    const auto dir = copyOf(kModel);
    QVERIFY(setConfigField(dir, "num_experts", "1000000"));
    QVERIFY(setConfigField(dir, "d_ff", "1"));
    QElapsedTimer timer;
    timer.start();
    QVERIFY_LOAD_FAILS(dir, {(dir / "model.safetensors").string(), "config.json", "1000000 experts"});
    QVERIFY2(timer.elapsed() < 5000, "refusing took so long that it probably built every expert first");
}

void BadInputTest::shardOutsideTheFolder() {
    const auto dir = copyOf(kShardedModel);
    const auto index = dir / "model.safetensors.index.json";
    std::string text = test::readFile(index);
    const std::string shard = "\"model-00003-of-00005.safetensors\"";
    const size_t at = text.find(shard);
    QVERIFY(at != std::string::npos);
    text.replace(at, shard.size(), "\"../x.safetensors\"");
    test::writeFile(index, text);
    QVERIFY_LOAD_FAILS(dir, {index.string(), "'../x.safetensors'"});
}

void BadInputTest::missingShard() {
    const auto dir = copyOf(kShardedModel);
    std::filesystem::remove(dir / "model-00002-of-00005.safetensors");
    QVERIFY_LOAD_FAILS(dir, {(dir / "model.safetensors.index.json").string(),
                             "'model-00002-of-00005.safetensors'", "missing"});
}

void BadInputTest::pickleWeightsOnly() {
    const auto dir = copyOf(kModel);
    std::filesystem::remove(dir / "model.safetensors");
    test::writeFile(dir / "pytorch_model.bin", std::string("PK\x03\x04", 4) + "archive/data.pkl");
    QVERIFY_LOAD_FAILS(dir, {dir.string(), "pytorch_model.bin", "safetensors"});
    std::filesystem::remove(dir / "pytorch_model.bin");
    QVERIFY_LOAD_FAILS(dir, {dir.string(), "no model.safetensors"});
}

void BadInputTest::missingFolder() {
    const auto dir = std::filesystem::path(temp_.path().toStdString()) / "no-such-model";
    QVERIFY_LOAD_FAILS(dir, {dir.string(), "does not exist"});
    const auto notAFolder = copyOf(kModel) / "config.json";
    QVERIFY_LOAD_FAILS(notAFolder, {notAFolder.string()});
    const auto noConfig = copyOf(kModel);
    std::filesystem::remove(noConfig / "config.json");
    QVERIFY_LOAD_FAILS(noConfig, {(noConfig / "config.json").string()});
    test::writeFile(noConfig / "config.json", "{\"d_model\": 32,");
    QVERIFY_LOAD_FAILS(noConfig, {(noConfig / "config.json").string(), "not valid JSON"});
}

// Random byte flips in the header: each load either succeeds or throws sida::Error.
// predictor.json beside a sound model. Each is refused while the file is parsed, before it is
// compared with the model or its weights are read.
void BadInputTest::malformedPredictorJson_data() {
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("value");
    // get<int64_t>() read 2^64 - 1 as block -1 (fuzz_predictor_metadata).
    QTest::newRow("moe_blocks 2^64 - 1") << "moe_blocks"
                                         << "[1, 18446744073709551615]";
    QTest::newRow("moe_blocks past any encoder") << "moe_blocks"
                                                 << "[1, 65536]";
    // Copying these values recursed once per level and overflowed the stack.
    const QString deep = QString(1'000'000, '[') + QString(1'000'000, ']');
    QTest::newRow("recipe nested a million deep") << "recipe" << deep;
    QTest::newRow("metrics nested a million deep") << "metrics"
                                                   << "{\"a\": " + deep + "}";
    QTest::newRow("recipe nested 65 deep") << "recipe" << QString(65, '[') + QString(65, ']');
}

void BadInputTest::malformedPredictorJson() {
    QFETCH(QString, field);
    QFETCH(QString, value);
    const auto dir = copyOf(kModel);
    std::map<std::string, std::string> fields{{"moe_blocks", "[1, 3]"}}; // the fixture's MoE blocks
    fields[field.toStdString()] = value.toStdString();
    std::string json = R"({"format": "sida-predictor", "version": 1,
        "architecture": {"hidden": 16, "lstm_layers": 1, "bidirectional": false},
        "d_model": 32, "vocab_size": 1152, "num_experts": 4, "model_fingerprint": ")" +
                       std::string(64, 'a') + "\"";
    for (const auto& [key, text] : fields) json += ",\n  \"" + key + "\": " + text;
    json += "}";
    test::writeFile(dir / "predictor.json", json);
    QVERIFY_LOAD_FAILS(dir, {(dir / "predictor.json").string(), "field '" + field.toStdString() + "'"});
}

// A model folder from an archive can hold a named pipe where a file belongs. Opening one for
// reading waits for a writer, so `sida info` hung forever; it must be refused at once.
void BadInputTest::namedPipeRefusedWithoutBlocking_data() {
    QTest::addColumn<QString>("file");
    QTest::newRow("model.safetensors") << "model.safetensors";
    QTest::newRow("config.json") << "config.json";
    QTest::newRow("predictor.json") << "predictor.json";
}

void BadInputTest::namedPipeRefusedWithoutBlocking() {
    QFETCH(QString, file);
    const auto dir = copyOf(kModel);
    const auto pipe = dir / file.toStdString();
    std::filesystem::remove(pipe);
    QVERIFY(::mkfifo(pipe.c_str(), 0600) == 0);
    // Should the load block after all, a writer that opens and closes the pipe lets it go on, so
    // that the test fails instead of hanging.
    std::atomic<bool> loaded{false};
    std::thread rescue([&] {
        for (int i = 0; i < 100 && !loaded; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!loaded) ::close(::open(pipe.c_str(), O_WRONLY | O_NONBLOCK));
    });
    QElapsedTimer timer;
    timer.start();
    const QString problem = loadFailsWith(dir, {pipe.string(), "not a regular file"});
    loaded = true;
    rescue.join();
    QVERIFY2(timer.elapsed() < 5000, "blocked on the named pipe");
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

// A sparse file of 100 GB takes no room in an archive; reading it whole exhausted memory.
void BadInputTest::hugeSparseJsonRefusedUnread_data() {
    QTest::addColumn<QString>("file");
    QTest::newRow("config.json") << "config.json";
    QTest::newRow("predictor.json") << "predictor.json";
}

void BadInputTest::hugeSparseJsonRefusedUnread() {
    QFETCH(QString, file);
    const auto dir = copyOf(kModel);
    const auto path = dir / file.toStdString();
    test::writeFile(path, "{}");
    std::filesystem::resize_file(path, uint64_t(100) << 30); // sparse: no disk space used
    QElapsedTimer timer;
    timer.start();
    QVERIFY_LOAD_FAILS(dir, {path.string(), "larger than the 100000000 bytes"});
    QVERIFY2(timer.elapsed() < 5000, "refusing took so long that the file was probably read");
}

void BadInputTest::randomHeaderCorruptionNeverCrashes() {
    const auto dir = copyOf(kModel);
    const auto file = dir / "model.safetensors";
    const std::string original = test::readFile(file);
    const uint64_t headerEnd = SafetensorsFile(file).header().dataOffset;
    std::mt19937 random(20240601);
    int refused = 0;
    for (int round = 0; round < 40; ++round) {
        std::string bytes = original;
        const int flips = 1 + round % 4;
        for (int i = 0; i < flips; ++i) {
            const size_t at = random() % headerEnd;
            bytes[at] = static_cast<char>(random() % 256);
        }
        test::writeFile(file, bytes);
        try {
            Model::load(dir, cpu());
        } catch (const Error&) {
            ++refused;
        } catch (const std::exception& e) {
            QFAIL(qPrintable(QString("round %1: not a sida::Error: %2").arg(round).arg(e.what())));
        }
    }
    QVERIFY2(refused > 20, "most corruptions should be caught");
}

void BadInputTest::badTextsGetTheirOwnError() {
    const std::vector<TextInput> inputs{
        single("a gripping and moving film"),
        single("bad \xff byte"),
        single(""),
        single(" \t\n  "),
        {"the acting is wooden", std::string("caf\xc3")},
        {"fine first", std::string("   ")},
        {"what a waste of time", std::string("and money")},
        single("\xe3\x80\x80\xc2\xa0"), // U+3000 and U+00A0 only
    };
    const auto results = model_->classify(inputs, 2);
    QCOMPARE(results.size(), inputs.size());
    const std::vector<bool> expectOk{true, false, false, false, false, false, true, false};
    for (size_t i = 0; i < inputs.size(); ++i) {
        QVERIFY2(results[i].ok() == expectOk[i],
                 qPrintable(QString("input %1: %2").arg(i).arg(results[i].error.c_str())));
        if (!results[i].ok()) {
            QCOMPARE(results[i].label, -1);
            QVERIFY(results[i].probabilities.empty());
            continue;
        }
        QVERIFY(results[i].label == 0 || results[i].label == 1);
        QVERIFY(results[i].labelName == "negative" || results[i].labelName == "positive");
        QCOMPARE(results[i].probabilities.size(), size_t(2));
        QVERIFY(std::abs(results[i].probabilities[0] + results[i].probabilities[1] - 1) < 1e-6);
        QCOMPARE(results[i].confidence, results[i].probabilities[results[i].label]);
    }
    QVERIFY2(results[1].error.find("offset 4") != std::string::npos, results[1].error.c_str());
    QVERIFY2(results[2].error.find("empty") != std::string::npos, results[2].error.c_str());
    QVERIFY2(results[3].error.find("empty") != std::string::npos, results[3].error.c_str());
    QVERIFY2(results[4].error.find("second sentence") != std::string::npos, results[4].error.c_str());
    QVERIFY2(results[4].error.find("offset 3") != std::string::npos, results[4].error.c_str());
    QVERIFY2(results[5].error.find("second sentence is empty") != std::string::npos,
             results[5].error.c_str());
    QVERIFY2(results[7].error.find("empty") != std::string::npos, results[7].error.c_str());
    // The neighbours of bad inputs are classified exactly as they are alone.
    QVERIFY(sameProbabilities(results[0], model_->classify({inputs[0]}).front()));
    QVERIFY(sameProbabilities(results[6], model_->classify({inputs[6]}).front()));
}

void BadInputTest::longTextIsTruncated() {
    std::string longText;
    for (int i = 0; i < 3000; ++i) longText += "word ";
    const auto results = model_->classify({single(longText), single("short text")});
    QVERIFY(results[0].ok());
    QVERIFY(results[0].truncated);
    QCOMPARE(results[0].tokens, model_->info().maxLength);
    QCOMPARE(results[0].tokens, 512);
    QVERIFY(!results[1].truncated);
    QVERIFY(results[1].tokens < 10);

    LoadOptions shortOptions = cpu();
    shortOptions.maxLength = 16;
    const auto shortModel = Model::load(test::fixture(kModel), shortOptions);
    const auto cut =
        shortModel->classify({single(longText), {longText, std::string("and a second sentence")}});
    QVERIFY(cut[0].truncated && cut[1].truncated);
    QCOMPARE(cut[0].tokens, 16);
    QCOMPARE(cut[1].tokens, 16);
}

QTEST_GUILESS_MAIN(BadInputTest)
#include "tst_badinput.moc"
