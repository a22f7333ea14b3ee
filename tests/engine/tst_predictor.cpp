// SPDX-License-Identifier: MIT
// The SiDA predictor through the public API and the `sida` executable: trained for a few epochs on
// a fixture model's routers (SST-2 text) it beats always guessing the most used expert; it is
// saved beside the model and loads back with identical predictions; a predictor made for another
// model and every kind of malformed predictor.json are refused naming the field; `sida collect`
// shards are reused by a second run, and training from them equals training on the fly.
#include "test_printers.h"
#include "test_support.h"

#include "sida/checksum.h"
#include "sida/errors.h"
#include "sida/model.h"
#include "sida/predictor.h"
#include "sida/safetensors.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>

using namespace sida;

namespace {

using Path = std::filesystem::path;

const std::string kModel = "hf/e4-step2-fp32";
constexpr int64_t kMaxLength = 64;

LoadOptions cpuLoad() {
    LoadOptions options;
    options.device = "cpu";
    options.threads = 1;
    options.maxLength = kMaxLength;
    return options;
}

Dataset textsOf(const Path& file) {
    DatasetOptions options;
    options.requireLabels = false;
    return readDataset(file, options);
}

QJsonObject readJson(const Path& path) {
    return QJsonDocument::fromJson(QByteArray::fromStdString(test::readFile(path))).object();
}

void writeJson(const Path& path, const QJsonObject& object) {
    test::writeFile(path, QJsonDocument(object).toJson().toStdString());
}

#define QVERIFY_FAILS(f, ...)                                                                                \
    do {                                                                                                     \
        const QString problem = test::errorProblem(f, __VA_ARGS__);                                          \
        QVERIFY2(problem.isEmpty(), qPrintable(problem));                                                    \
    } while (false)

void copyPredictor(const Path& from, const Path& to) {
    for (const char* name : {"predictor.json", "predictor.safetensors"})
        std::filesystem::copy_file(from / name, to / name, std::filesystem::copy_options::overwrite_existing);
}

// Overwrites the first bytes of one tensor's data in place.
void overwriteTensorBytes(const Path& file, const std::string& tensor, const std::string& bytes) {
    uint64_t at = 0;
    {
        const SafetensorsFile f(file);
        const TensorInfo* info = f.header().find(tensor);
        if (!info) throw Error("test: no tensor '" + tensor + "'");
        at = f.header().dataOffset + info->begin;
    }
    std::string content = test::readFile(file);
    content.replace(at, bytes.size(), bytes);
    test::writeFile(file, content);
}

int64_t shardsIn(const Path& dir) {
    int64_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        count += entry.path().filename().string().rfind("shard-", 0) == 0;
    return count;
}

using JsonEdit = std::function<void(QJsonObject&)>;

} // namespace

Q_DECLARE_METATYPE(JsonEdit)

class PredictorTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void beatsMajorityBaseline();
    void savedBesideTheModelAndReloaded();
    void tokenOnlyBaselines();
    void modelWithoutPredictor();
    void predictorOfAnotherModel_data();
    void predictorOfAnotherModel();
    void malformedPredictorJson_data();
    void malformedPredictorJson();
    void brokenPredictorFiles();
    void collectIsResumable();
    void collectIntoAFolderOfALargerCollection();
    void trainingFromCollectedEqualsOnTheFly();
    void collectedFromAnotherModel();
    void cliCollectTrainEvaluate();
    void badSettings();

private:
    QTemporaryDir temp_;
    Path dir_, train_, dev_, model_;
    PredictorTrainOptions options_;
    PredictorTrainResult result_;
    std::vector<PredictorEpoch> reported_;
    int copies_ = 0;
    Path path(const std::string& name) const { return dir_ / name; }
    Path copyOf(const std::string& fixture) {
        return test::copyModel(test::fixture(fixture), temp_, "copy" + std::to_string(++copies_));
    }
    PredictorTrainOptions optionsFor(const Path& modelDir) const;
};

// A small predictor (hidden 32, one LSTM layer) for a few epochs at a learning rate fit for so
// few steps.
PredictorTrainOptions PredictorTest::optionsFor(const Path& modelDir) const {
    PredictorTrainOptions o;
    o.modelDir = modelDir;
    o.trainData = train_;
    o.devData = dev_;
    o.dataOptions.requireLabels = false;
    o.architecture.hidden = 32;
    o.architecture.lstmLayers = 1;
    o.epochs = 4;
    o.batchSize = 16;
    o.learningRate = 1e-2;
    o.patience = 4;
    o.maxLength = kMaxLength;
    o.threads = 1;
    o.device = "cpu";
    o.command = "sida train-predictor (tst_predictor)";
    return o;
}

void PredictorTest::initTestCase() {
    QVERIFY(temp_.isValid());
    dir_ = temp_.path().toStdString();
    train_ = path("sst2-train.tsv");
    dev_ = path("sst2-dev.tsv");
    test::writeRows(test::glue("SST-2/train.tsv"), train_, 0, 320);
    test::writeRows(test::glue("SST-2/dev.tsv"), dev_, 0, 100);
    model_ = copyOf(kModel);
    options_ = optionsFor(model_);
    result_ = trainPredictor(options_, [this](const PredictorEpoch& e) { reported_.push_back(e); });
}

void PredictorTest::beatsMajorityBaseline() {
    QVERIFY(!result_.interrupted);
    QVERIFY(!result_.epochs.empty());
    QCOMPARE(reported_.size(), result_.epochs.size());
    QVERIFY2(
        result_.epochs.back().loss < result_.epochs.front().loss,
        qPrintable(
            QStringLiteral("%1 -> %2").arg(result_.epochs.front().loss).arg(result_.epochs.back().loss)));

    const auto model = Model::load(model_, cpuLoad());
    const Dataset dev = textsOf(dev_);
    const PredictorReport report = evaluatePredictor(*model, dev, 3);
    QCOMPARE(report.sequences, int64_t(100));
    int64_t tokens = 0;
    for (const Example& e : dev.examples)
        tokens += int64_t(model->tokenizer().encode(e.text, kMaxLength).ids.size());
    QCOMPARE(report.tokens, tokens);
    QCOMPARE(report.layers.size(), size_t(2));
    QCOMPARE(report.layers[0].block, int64_t(1));
    QCOMPARE(report.layers[1].block, int64_t(3));
    QVERIFY2(
        report.top1HitRate > report.majorityBaseline,
        qPrintable(
            QStringLiteral("top-1 %1, majority %2").arg(report.top1HitRate).arg(report.majorityBaseline)));
    QVERIFY(report.topKHitRate >= report.top1HitRate && report.topKHitRate <= 1);
    for (const PredictorLayerReport& layer : report.layers) {
        QVERIFY(layer.top1HitRate >= 0 && layer.top1HitRate <= layer.topKHitRate);
        QVERIFY(layer.setRecall > 0 && layer.setRecall <= 1);
        // The confusion matrix counts every real token once; its diagonal is the top-1 hits.
        int64_t all = 0, diagonal = 0;
        for (size_t p = 0; p < layer.confusion.size(); ++p)
            for (size_t a = 0; a < layer.confusion.size(); ++a) {
                all += layer.confusion[p][a];
                diagonal += p == a ? layer.confusion[p][a] : 0;
            }
        QCOMPARE(all, tokens);
        QCOMPARE(static_cast<double>(diagonal) / static_cast<double>(tokens), layer.top1HitRate);
    }
}

void PredictorTest::savedBesideTheModelAndReloaded() {
    QVERIFY(std::filesystem::exists(model_ / "predictor.safetensors"));
    QVERIFY(std::filesystem::exists(model_ / "predictor.json"));
    const auto model = Model::load(model_, cpuLoad());
    const PredictorInfo& info = model->info().predictor;
    QVERIFY(info.present);
    QCOMPARE(info.hidden, int64_t(32));
    QCOMPARE(info.lstmLayers, int64_t(1));
    QVERIFY(!info.bidirectional);
    QCOMPARE(info.devTop1, result_.bestDevTop1);
    const PredictorEpoch& best = result_.epochs.at(static_cast<size_t>(result_.bestEpoch - 1));
    QVERIFY(best.best);
    QCOMPARE(info.devTop3, best.devTop3);
    for (const PredictorEpoch& e : result_.epochs) QVERIFY(e.devTop1 <= result_.bestDevTop1);

    // What training measured on the dev set is what the saved predictor scores.
    const Dataset dev = textsOf(dev_);
    const PredictorReport report = evaluatePredictor(*model, dev, 3);
    QVERIFY2(std::abs(report.top1HitRate - result_.bestDevTop1) < 1e-9,
             qPrintable(QStringLiteral("%1 vs %2").arg(report.top1HitRate).arg(result_.bestDevTop1)));
    QVERIFY(std::abs(report.topKHitRate - best.devTop3) < 1e-9);

    // A second load predicts exactly the same.
    const PredictorReport again = evaluatePredictor(*Model::load(model_, cpuLoad()), dev, 3);
    QCOMPARE(again.top1HitRate, report.top1HitRate);
    for (size_t l = 0; l < report.layers.size(); ++l)
        QVERIFY(again.layers[l].confusion == report.layers[l].confusion);

    const QJsonObject json = readJson(model_ / "predictor.json");
    QCOMPARE(json["format"].toString(), QStringLiteral("sida-predictor"));
    QCOMPARE(json["d_model"].toInt(), 32);
    QCOMPARE(json["num_experts"].toInt(), 4);
    QCOMPARE(json["recipe"].toObject()["command"].toString().toStdString(), options_.command);
    QCOMPARE(json["recipe"].toObject()["train_sequences"].toInt(), 320);
    QCOMPARE(json["recipe"].toObject()["dev_sequences"].toInt(), 100);
    QCOMPARE(json["metrics"].toObject()["best_epoch"].toInt(), result_.bestEpoch);
}

void PredictorTest::tokenOnlyBaselines() {
    const Dataset train = textsOf(train_);
    const auto model = Model::load(model_, cpuLoad());
    QCOMPARE(evaluatePredictor(*model, textsOf(dev_), 3).tokenLookupTop1, -1.0);
    // Scored on the very set it was built from, each token's most frequent expert cannot do worse
    // than one expert for every token.
    const PredictorReport onTrain = evaluatePredictor(*model, train, 3, &train);
    QVERIFY2(
        onTrain.tokenLookupTop1 >= onTrain.majorityBaseline - 1e-12 && onTrain.tokenLookupTop1 <= 1.0,
        qPrintable(QStringLiteral("%1 vs %2").arg(onTrain.tokenLookupTop1).arg(onTrain.majorityBaseline)));
    QCOMPARE(onTrain.routingAidAgreement, -1.0);
    QVERIFY(onTrain.routingAidNote.find("no training.json") != std::string::npos);

    // The routing aid's table is rebuilt only for a model trained with it, from its own training set.
    const Path folder = copyOf(kModel);
    for (const char* file : {"predictor.json", "predictor.safetensors"})
        std::filesystem::copy_file(model_ / file, folder / file);
    auto record = [&](double weight, const std::string& sha256) {
        std::ofstream(folder / "training.json")
            << R"({"seed": 7, "recipe": {"token_routing_weight": )" << weight << R"(, "max_length": 64},)"
            << R"( "data": [{"role": "train", "sha256": ")" << sha256 << R"("}]})";
        return evaluatePredictor(*Model::load(folder, cpuLoad()), textsOf(dev_), 3, &train);
    };
    QVERIFY(record(0.0, sha256File(train_)).routingAidNote.find("without the routing aid") !=
            std::string::npos);
    const PredictorReport other = record(1.0, std::string(64, '0'));
    QVERIFY(other.routingAidNote.find("SHA-256") != std::string::npos);
    QCOMPARE(other.routingAidAgreement, -1.0);
    const PredictorReport aided = record(1.0, sha256File(train_));
    QVERIFY2(aided.routingAidNote.empty(), aided.routingAidNote.c_str());
    QVERIFY(aided.routingAidAgreement >= 0.0 && aided.routingAidAgreement <= 1.0);
}

void PredictorTest::modelWithoutPredictor() {
    LoadOptions options = cpuLoad();
    options.loadPredictor = false;
    const auto model = Model::load(model_, options);
    QVERIFY(!model->info().predictor.present);
    QVERIFY_FAILS([&] { evaluatePredictor(*model, textsOf(dev_)); }, {"has no predictor"});
    const auto fixture = Model::load(test::fixture(kModel), cpuLoad());
    QVERIFY(!fixture->info().predictor.present);
    QVERIFY_FAILS([&] { evaluatePredictor(*Model::load(model_, cpuLoad()), textsOf(dev_), 5); },
                  {"top-k", "1..4"});
}

void PredictorTest::predictorOfAnotherModel_data() {
    QTest::addColumn<QString>("fixture");
    QTest::addColumn<QString>("field");
    QTest::newRow("8 experts") << "hf/e8-step1-bias-fp32"
                               << "num_experts";
    QTest::newRow("MoE at other blocks") << "hf/e4-capacity3"
                                         << "moe_blocks";
    QTest::newRow("same shapes, other weights") << QString::fromStdString(kModel) << "model_fingerprint";
}

void PredictorTest::predictorOfAnotherModel() {
    QFETCH(QString, fixture);
    QFETCH(QString, field);
    const Path other = copyOf(fixture.toStdString());
    copyPredictor(model_, other);
    if (field == "model_fingerprint") {
        // The same model with one embedding value changed is another model.
        float value = 0.5f;
        std::string bytes(4, '\0');
        std::memcpy(bytes.data(), &value, 4);
        overwriteTensorBytes(other / "model.safetensors", "shared.weight", bytes);
    }
    QVERIFY_FAILS([&] { Model::load(other, cpuLoad()); },
                  {(other / "predictor.json").string(), "'" + field.toStdString() + "'", "another model"});
    // Without the predictor the model itself is fine.
    LoadOptions options = cpuLoad();
    options.loadPredictor = false;
    QVERIFY(!Model::load(other, options)->info().predictor.present);
}

void PredictorTest::malformedPredictorJson_data() {
    QTest::addColumn<JsonEdit>("edit");
    QTest::addColumn<QString>("field");
    auto row = [](const char* name, JsonEdit edit, const char* field) {
        QTest::newRow(name) << edit << QString(field);
    };
    row(
        "another format", [](QJsonObject& j) { j["format"] = "onnx"; }, "format");
    row(
        "no format", [](QJsonObject& j) { j.remove("format"); }, "format");
    row(
        "version 2", [](QJsonObject& j) { j["version"] = 2; }, "version");
    row(
        "d_model of another model", [](QJsonObject& j) { j["d_model"] = 64; }, "d_model");
    row(
        "no d_model", [](QJsonObject& j) { j.remove("d_model"); }, "d_model");
    row(
        "d_model as text", [](QJsonObject& j) { j["d_model"] = "32"; }, "d_model");
    row(
        "vocab_size 0", [](QJsonObject& j) { j["vocab_size"] = 0; }, "vocab_size");
    row(
        "num_experts negative", [](QJsonObject& j) { j["num_experts"] = -4; }, "num_experts");
    row(
        "num_experts fractional", [](QJsonObject& j) { j["num_experts"] = 4.5; }, "num_experts");
    row(
        "no MoE blocks", [](QJsonObject& j) { j["moe_blocks"] = QJsonArray(); }, "moe_blocks");
    row(
        "negative MoE block",
        [](QJsonObject& j) {
            j["moe_blocks"] = QJsonArray{1, -3};
        },
        "moe_blocks");
    row(
        "MoE blocks as text", [](QJsonObject& j) { j["moe_blocks"] = "1,3"; }, "moe_blocks");
    row(
        "short fingerprint", [](QJsonObject& j) { j["model_fingerprint"] = "abc123"; }, "model_fingerprint");
    row(
        "no architecture", [](QJsonObject& j) { j.remove("architecture"); }, "architecture");
    row(
        "architecture as a list",
        [](QJsonObject& j) {
            j["architecture"] = QJsonArray{32, 1};
        },
        "architecture");
    auto architecture = [](const char* key, QJsonValue value) {
        return [=](QJsonObject& j) {
            QJsonObject a = j["architecture"].toObject();
            a[key] = value;
            j["architecture"] = a;
        };
    };
    row("hidden 0", architecture("hidden", 0), "hidden");
    row("hidden as text", architecture("hidden", "32"), "hidden");
    row("lstm_layers -1", architecture("lstm_layers", -1), "lstm_layers");
    row("absurd lstm_layers", architecture("lstm_layers", 100000), "architecture");
    row("bidirectional as text", architecture("bidirectional", "yes"), "bidirectional");
}

void PredictorTest::malformedPredictorJson() {
    QFETCH(JsonEdit, edit);
    QFETCH(QString, field);
    const Path copy = copyOf(kModel);
    copyPredictor(model_, copy);
    QJsonObject json = readJson(copy / "predictor.json");
    edit(json);
    writeJson(copy / "predictor.json", json);
    QVERIFY_FAILS([&] { Model::load(copy, cpuLoad()); },
                  {(copy / "predictor.json").string(), "field '" + field.toStdString() + "'"});
}

void PredictorTest::brokenPredictorFiles() {
    const Path copy = copyOf(kModel);
    const Path json = copy / "predictor.json", weights = copy / "predictor.safetensors";
    copyPredictor(model_, copy);
    test::writeFile(json, "{\"format\": \"sida-predictor\",");
    QVERIFY_FAILS([&] { Model::load(copy, cpuLoad()); }, {json.string(), "not valid JSON"});
    test::writeFile(json, "[1, 2]");
    QVERIFY_FAILS([&] { Model::load(copy, cpuLoad()); }, {json.string(), "not a JSON object"});

    // A valid predictor.json whose width does not match the weights.
    copyPredictor(model_, copy);
    QJsonObject narrower = readJson(json);
    QJsonObject architecture = narrower["architecture"].toObject();
    architecture["hidden"] = 16;
    narrower["architecture"] = architecture;
    writeJson(json, narrower);
    QVERIFY_FAILS([&] { Model::load(copy, cpuLoad()); },
                  {weights.string(), "tensor 'compress.weight'", "shape"});

    // One of the two files alone.
    copyPredictor(model_, copy);
    std::filesystem::remove(json);
    QVERIFY_FAILS([&] { Model::load(copy, cpuLoad()); }, {weights.string(), "predictor.json"});
    copyPredictor(model_, copy);
    std::filesystem::remove(weights);
    QVERIFY_FAILS([&] { Model::load(copy, cpuLoad()); }, {weights.string()});

    // A weight that is not finite.
    copyPredictor(model_, copy);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::string bytes(4, '\0');
    std::memcpy(bytes.data(), &nan, 4);
    overwriteTensorBytes(weights, "residual.weight", bytes);
    QVERIFY_FAILS([&] { Model::load(copy, cpuLoad()); }, {weights.string(), "residual.weight"});
}

// A collection stopped part-way keeps its complete shards; the next run reuses them and collects
// only the rest, and a run over a finished collection collects nothing.
void PredictorTest::collectIsResumable() {
    const auto model = Model::load(model_, cpuLoad());
    const Dataset data = textsOf(train_);
    CollectOptions options;
    options.out = path("collected-resumable");
    options.sequencesPerShard = 64;
    options.batchSize = 32; // two forward passes a shard

    // Stopped after the first half of shard 2: shards 0 and 1 are complete, shard 2 is not written.
    const CancelToken cancel;
    const ProgressCallback stopInShard2 = [&](const Progress& p) {
        if (p.detail == "shard 2") cancel.cancel();
    };
    QVERIFY_FAILS([&] { collectRouterLogits(*model, data, options, stopInShard2, cancel); }, {"cancelled"});
    QCOMPARE(shardsIn(options.out), int64_t(2));

    const CollectResult resumed = collectRouterLogits(*model, data, options);
    QCOMPARE(resumed.shardsReused, 2);
    QCOMPARE(resumed.shards, 5); // 320 sequences, 64 a shard
    QCOMPARE(resumed.sequences, int64_t(320));
    QVERIFY(resumed.fullLogits); // 4 experts <= T = 30
    int64_t tokens = 0;
    for (const Example& e : data.examples)
        tokens += int64_t(model->tokenizer().encode(e.text, kMaxLength).ids.size());
    QCOMPARE(resumed.tokens, tokens);

    const CollectResult again = collectRouterLogits(*model, data, options);
    QCOMPARE(again.shardsReused, 5);
    QCOMPARE(again.shards, 5);
    QCOMPARE(again.tokens, tokens);
}

// Collecting a smaller data set into a folder that holds a larger collection must not leave the
// old shards to be read with the new ones.
void PredictorTest::collectIntoAFolderOfALargerCollection() {
    const auto model = Model::load(model_, cpuLoad());
    CollectOptions options;
    options.out = path("collected-shrunk");
    options.sequencesPerShard = 64;
    QCOMPARE(collectRouterLogits(*model, textsOf(train_), options).shards, 5);
    DatasetOptions first100;
    first100.requireLabels = false;
    first100.limit = 100;
    const CollectResult smaller = collectRouterLogits(*model, readDataset(train_, first100), options);
    QCOMPARE(smaller.shards, 2);
    QCOMPARE(smaller.shardsReused, 1);
    QCOMPARE(shardsIn(options.out), int64_t(2));

    PredictorTrainOptions train = optionsFor(copyOf(kModel));
    train.trainData.clear();
    train.collected = options.out;
    train.epochs = 1;
    trainPredictor(train);
    QCOMPARE(readJson(train.modelDir / "predictor.json")["recipe"].toObject()["train_sequences"].toInt(),
             100);
}

// The teacher read back from shards is the teacher computed on the fly: the same seed then gives
// the same predictor, byte for byte.
void PredictorTest::trainingFromCollectedEqualsOnTheFly() {
    const Path collectedModel = copyOf(kModel);
    CollectOptions collect;
    collect.out = path("collected-for-training");
    collect.sequencesPerShard = 64; // shards of whole forward batches, as on the fly
    collectRouterLogits(*Model::load(collectedModel, cpuLoad()), textsOf(train_), collect);

    PredictorTrainOptions fromShards = optionsFor(collectedModel);
    fromShards.trainData.clear();
    fromShards.collected = collect.out;
    fromShards.epochs = 2;
    const PredictorTrainResult a = trainPredictor(fromShards);
    PredictorTrainOptions onTheFly = optionsFor(copyOf(kModel));
    onTheFly.epochs = 2;
    const PredictorTrainResult b = trainPredictor(onTheFly);
    QCOMPARE(a.epochs.size(), b.epochs.size());
    for (size_t i = 0; i < a.epochs.size(); ++i) {
        QCOMPARE(a.epochs[i].loss, b.epochs[i].loss);
        QCOMPARE(a.epochs[i].devTop1, b.epochs[i].devTop1);
    }
    QCOMPARE(sha256File(collectedModel / "predictor.safetensors"),
             sha256File(onTheFly.modelDir / "predictor.safetensors"));
}

void PredictorTest::collectedFromAnotherModel() {
    CollectOptions collect;
    collect.out = path("collected-other");
    collect.sequencesPerShard = 200;
    collectRouterLogits(*Model::load(model_, cpuLoad()), textsOf(dev_), collect);
    PredictorTrainOptions other = optionsFor(copyOf("hf/e4-capacity3"));
    other.trainData.clear();
    other.collected = collect.out;
    QVERIFY_FAILS([&] { trainPredictor(other); }, {"shard-00000.safetensors", "model_fingerprint"});
    // Collecting for the other model into that folder is refused too, rather than overwriting
    // another model's activations.
    QVERIFY_FAILS(
        [&] { collectRouterLogits(*Model::load(other.modelDir, cpuLoad()), textsOf(dev_), collect); },
        {"shard-00000.safetensors", "model_fingerprint"});
    QVERIFY(!std::filesystem::exists(other.modelDir / "predictor.json"));
}

// sida collect (twice: the second reuses every shard), train-predictor --collected, and
// eval-predictor agreeing with what training recorded.
void PredictorTest::cliCollectTrainEvaluate() {
    const Path model = copyOf(kModel), shards = path("collected-cli");
    const std::vector<std::string> common{"--max-length", "64", "--threads", "1", "--device", "cpu"};
    std::vector<std::string> collect{"collect", model.string(),  "--data",  train_.string(),
                                     "--out",   shards.string(), "--shard", "64"};
    collect.insert(collect.end(), common.begin(), common.end());
    std::string out, err;
    QCOMPARE(test::runCli(collect, &out, &err), 0);
    QVERIFY2(out.find("320 sequences") != std::string::npos &&
                 out.find("5 shard(s) (0 reused)") != std::string::npos,
             out.c_str());
    QCOMPARE(test::runCli(collect, &out, &err), 0);
    QVERIFY2(out.find("5 shard(s) (5 reused)") != std::string::npos, out.c_str());

    std::vector<std::string> train{"train-predictor",
                                   model.string(),
                                   "--collected",
                                   shards.string(),
                                   "--dev",
                                   dev_.string(),
                                   "--hidden",
                                   "32",
                                   "--lstm-layers",
                                   "1",
                                   "--epochs",
                                   "2",
                                   "--batch",
                                   "16",
                                   "--lr",
                                   "0.01"};
    train.insert(train.end(), common.begin(), common.end());
    QCOMPARE(test::runCli(train, &out, &err), 0);
    QVERIFY2(out.find("epoch 2") != std::string::npos, out.c_str());
    const QJsonObject json = readJson(model / "predictor.json");
    QCOMPARE(json["recipe"].toObject()["train_sequences"].toInt(), 320);
    QVERIFY(json["recipe"].toObject()["command"].toString().contains("--collected"));

    std::vector<std::string> eval{"eval-predictor", model.string(), "--data", dev_.string(), "--json"};
    eval.insert(eval.end(), common.begin(), common.end());
    QCOMPARE(test::runCli(eval, &out, &err), 0);
    const QJsonObject report = QJsonDocument::fromJson(QByteArray::fromStdString(out)).object();
    QCOMPARE(report["sequences"].toInt(), 100);
    QVERIFY(std::abs(report["top1_hit_rate"].toDouble() -
                     json["metrics"].toObject()["dev_top1_hit_rate"].toDouble()) < 1e-9);
}

void PredictorTest::badSettings() {
    struct Case {
        const char* name;
        std::function<void(PredictorTrainOptions&)> edit;
        const char* named;
    };
    const std::vector<Case> cases{
        {"no data", [](auto& o) { o.trainData.clear(); }, "training data"},
        {"0 epochs", [](auto& o) { o.epochs = 0; }, "epochs"},
        {"batch 0", [](auto& o) { o.batchSize = 0; }, "batch size"},
        {"learning rate 0", [](auto& o) { o.learningRate = 0; }, "learning rate"},
        {"negative lambda", [](auto& o) { o.crossEntropyWeight = -1; }, "lambda"},
        {"lambda NaN", [](auto& o) { o.crossEntropyWeight = std::numeric_limits<double>::quiet_NaN(); },
         "lambda"},
        {"T 0", [](auto& o) { o.topT = 0; }, "T must"},
        {"patience 0", [](auto& o) { o.patience = 0; }, "patience"},
        {"hidden 0", [](auto& o) { o.architecture.hidden = 0; }, "hidden size"},
        {"9 LSTM layers", [](auto& o) { o.architecture.lstmLayers = 9; }, "LSTM layers"},
        {"max length 1", [](auto& o) { o.maxLength = 1; }, "maximum length"},
        {"no model", [](auto& o) { o.modelDir = "/nonexistent/model"; }, "/nonexistent/model"},
        {"missing data", [](auto& o) { o.trainData = "/nonexistent/train.tsv"; }, "/nonexistent/train.tsv"},
        {"empty collection",
         [this](auto& o) {
             o.trainData.clear();
             o.collected = path("empty-collection");
         },
         "no collected shards"},
    };
    for (const Case& c : cases) {
        PredictorTrainOptions options = optionsFor(model_);
        c.edit(options);
        const QString problem = test::errorProblem([&] { trainPredictor(options); }, {c.named});
        QVERIFY2(problem.isEmpty(), qPrintable(QStringLiteral("%1: %2").arg(c.name, problem)));
    }
    QVERIFY_FAILS(
        [&] {
            collectRouterLogits(*Model::load(model_, cpuLoad()), textsOf(dev_),
                                {.out = path("c"), .sequencesPerShard = 0});
        },
        {"sequences per shard"});
}

QTEST_GUILESS_MAIN(PredictorTest)
#include "tst_predictor.moc"
