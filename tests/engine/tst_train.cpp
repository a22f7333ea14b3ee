// SPDX-License-Identifier: MIT
// Training through the public API (sida::trainClassifier, finetuneClassifier) and the `sida`
// executable: a tiny Switch classifier trained for a few steps on the first rows of GLUE SST-2
// learns, is reproducible from its seed, reloads and classifies as training measured it, records
// how it was made in training.json, handles sentence pairs (MRPC), stops and resumes exactly,
// fine-tunes a checkpoint (head only or whole), and refuses bad settings by name.
#include "test_printers.h"
#include "test_support.h"

#include "sida/checksum.h"
#include "sida/errors.h"
#include "sida/evaluate.h"
#include "sida/model.h"
#include "sida/safetensors.h"
#include "sida/tokenizer.h"
#include "sida/train.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>

using namespace sida;

namespace {

using Path = std::filesystem::path;

// The tiny recipe every run here starts from: 2 blocks of d_model 32, both MoE with 4 experts,
// a 300-piece tokenizer, a few dozen steps on one thread.
TrainOptions tinyOptions(const Path& train, const Path& dev, const Path& out) {
    TrainOptions o;
    o.trainData = train;
    o.devData = dev;
    o.outDir = out;
    ArchitectureOptions& a = o.architecture;
    a.dModel = 32;
    a.numLayers = 2;
    a.numHeads = 4;
    a.dKv = 8;
    a.dFf = 64;
    a.numExperts = 4;
    a.sparseStep = 1;
    a.vocabPieces = 300;
    OptimizerOptions& p = o.optimizer;
    p.epochs = 3;
    p.batchSize = 16;
    p.learningRate = 3e-3;
    p.warmupSteps = 10;
    o.maxLength = 64;
    o.seed = 42;
    o.threads = 1;
    o.device = "cpu";
    o.storageDType = "float32";
    o.command = "sida train (tst_train)";
    return o;
}

LoadOptions cpuLoad(int64_t maxLength) {
    LoadOptions options;
    options.device = "cpu";
    options.threads = 1;
    options.maxLength = maxLength;
    return options;
}

QJsonObject readJson(const Path& path) {
    return QJsonDocument::fromJson(QByteArray::fromStdString(test::readFile(path))).object();
}

std::vector<double> losses(const std::vector<EpochMetrics>& epochs) {
    std::vector<double> values;
    for (const EpochMetrics& m : epochs) values.push_back(m.loss);
    return values;
}

std::vector<TextInput> textsOf(const Dataset& data) {
    std::vector<TextInput> inputs;
    for (const Example& e : data.examples) inputs.push_back({e.text, e.pair});
    return inputs;
}

using TrainEdit = std::function<void(TrainOptions&)>;
using FinetuneEdit = std::function<void(FinetuneOptions&)>;

} // namespace

Q_DECLARE_METATYPE(TrainEdit)
Q_DECLARE_METATYPE(FinetuneEdit)

class TrainTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void lossFalls();
    void sameSeedSameModel();
    void reloadedModelClassifiesAsTrainingMeasured();
    void trainingJsonRecordsTheRun();
    void cliTrainThenEval();
    void sentencePairs();
    void caseFoldedTokenizer();
    void cancelAndResume_data();
    void cancelAndResume();
    void resumeRefusesAnotherRun();
    void finetune_data();
    void finetune();
    void badTrainingSettings_data();
    void badTrainingSettings();
    void badFinetuneSettings_data();
    void badFinetuneSettings();

private:
    QTemporaryDir temp_;
    Path dir_, sst2Train_, sst2Dev_, smallTrain_;
    TrainOptions mainOptions_;
    TrainResult main_;
    std::vector<EpochMetrics> reported_; ///< what onEpoch reported during the main run
    double mainElapsed_ = 0;
    TrainResult reference_; ///< an uninterrupted run without randomness, for the resume tests
    Path referenceDir_;
    Path path(const std::string& name) const { return dir_ / name; }
    TrainOptions deterministicOptions(const Path& out) const;
};

void TrainTest::initTestCase() {
    QVERIFY(temp_.isValid());
    dir_ = temp_.path().toStdString();
    sst2Train_ = path("sst2-train.tsv");
    sst2Dev_ = path("sst2-dev.tsv");
    smallTrain_ = path("sst2-small.tsv");
    test::writeRows(test::glue("SST-2/train.tsv"), sst2Train_, 0, 400);
    test::writeRows(test::glue("SST-2/dev.tsv"), sst2Dev_, 0, 100);
    test::writeRows(test::glue("SST-2/train.tsv"), smallTrain_, 0, 48);

    mainOptions_ = tinyOptions(sst2Train_, sst2Dev_, path("main"));
    mainOptions_.onEpoch = [this](const EpochMetrics& m) { reported_.push_back(m); };
    QElapsedTimer timer;
    timer.start();
    main_ = trainClassifier(mainOptions_);
    mainElapsed_ = static_cast<double>(timer.elapsed()) / 1000.0;
}

// The mean training loss of the last epoch is below the first's, and below what knowing only the
// class frequencies gives (the entropy of the training labels).
void TrainTest::lossFalls() {
    QCOMPARE(main_.epochs.size(), size_t(3));
    QVERIFY(!main_.interrupted);
    const double first = main_.epochs.front().loss, last = main_.epochs.back().loss;
    QVERIFY2(last < first, qPrintable(QStringLiteral("epoch losses %1 -> %2").arg(first).arg(last)));
    const Dataset train = readDataset(sst2Train_);
    double positive = 0;
    for (const Example& e : train.examples) positive += *e.label == "1" ? 1 : 0;
    const double p = positive / static_cast<double>(train.examples.size());
    const double prior = -p * std::log(p) - (1 - p) * std::log(1 - p);
    QVERIFY2(last < prior,
             qPrintable(QStringLiteral("last epoch %1, label entropy %2").arg(last).arg(prior)));
    for (const EpochMetrics& m : main_.epochs) {
        QVERIFY(std::isfinite(m.loss) && std::isfinite(m.auxLoss) && std::isfinite(m.zLoss));
        QVERIFY(m.devAccuracy > 0 && m.devAccuracy <= 1);
        QVERIFY(m.expertEntropy > 0 && m.expertEntropy <= 1);
        QVERIFY(m.seconds > 0);
    }
    // onEpoch saw the same epochs, as they finished.
    QCOMPARE(losses(reported_), losses(main_.epochs));
}

// --case-fold: the trained tokenizer reads upper case as lower case (SST-2 is lowercased, so
// without it "GREAT" is all <unk>), and training.json says so.
void TrainTest::caseFoldedTokenizer() {
    TrainOptions folded = tinyOptions(sst2Train_, sst2Dev_, path("case-folded"));
    folded.architecture.caseFold = true;
    folded.optimizer.epochs = 1;
    trainClassifier(folded);
    const Tokenizer foldedTokenizer(path("case-folded") / "spiece.model");
    QCOMPARE(foldedTokenizer.encode("A GREAT Film", 64).ids, foldedTokenizer.encode("a great film", 64).ids);
    const Tokenizer plain(path("main") / "spiece.model");
    const std::vector<int64_t> shouted = plain.encode("GREAT", 64).ids;
    QVERIFY(std::find(shouted.begin(), shouted.end(), int64_t(2)) != shouted.end()); // <unk>
    QCOMPARE(
        readJson(path("case-folded") / "training.json")["recipe"].toObject()["tokenizer_case_fold"].toBool(),
        true);
    QCOMPARE(readJson(path("main") / "training.json")["recipe"].toObject()["tokenizer_case_fold"].toBool(),
             false);
}

// The seed fixes everything: the same options give the same tokenizer, losses and weights.
void TrainTest::sameSeedSameModel() {
    TrainOptions again = tinyOptions(sst2Train_, sst2Dev_, path("again"));
    const TrainResult repeated = trainClassifier(again);
    QCOMPARE(losses(repeated.epochs), losses(main_.epochs));
    QCOMPARE(sha256File(path("again") / "model.safetensors"), sha256File(path("main") / "model.safetensors"));
    // spiece.model records the paths it was trained from, so compare what it does.
    const Tokenizer first(path("main") / "spiece.model"), second(path("again") / "spiece.model");
    QCOMPARE(second.pieceCount(), first.pieceCount());
    for (const Example& e : readDataset(sst2Dev_).examples)
        QCOMPARE(second.encode(e.text, 64).ids, first.encode(e.text, 64).ids);

    TrainOptions other = tinyOptions(sst2Train_, sst2Dev_, path("other-seed"));
    other.seed = 7;
    other.optimizer.epochs = 1;
    const TrainResult reseeded = trainClassifier(other);
    QVERIFY(reseeded.epochs.front().loss != main_.epochs.front().loss);
}

// The saved folder is the best epoch: reloaded, it scores exactly what training reported, and
// two loads classify identically.
void TrainTest::reloadedModelClassifiesAsTrainingMeasured() {
    const Dataset dev = readDataset(sst2Dev_);
    const auto model = Model::load(path("main"), cpuLoad(mainOptions_.maxLength));
    QCOMPARE(model->info().labels, (std::vector<std::string>{"0", "1"}));
    QCOMPARE(model->info().config.num_experts, int64_t(4));
    QCOMPARE(model->info().moeBlocks, (std::vector<int64_t>{0, 1}));
    const EvalReport report = evaluate(*model, dev);
    QCOMPARE(report.n, int64_t(100));
    const EpochMetrics& best = main_.epochs.at(static_cast<size_t>(main_.bestEpoch - 1));
    QVERIFY(best.best);
    QCOMPARE(report.accuracy, best.devAccuracy);
    QCOMPARE(report.accuracy, main_.bestDevAccuracy);
    QCOMPARE(report.macroF1, best.devF1);
    QCOMPARE(readJson(path("main") / "training.json")["best_dev_accuracy"].toDouble(), report.accuracy);

    const auto again = Model::load(path("main"), cpuLoad(mainOptions_.maxLength));
    const auto first = model->classify(textsOf(dev)), second = again->classify(textsOf(dev));
    QCOMPARE(first.size(), size_t(100));
    for (size_t i = 0; i < first.size(); ++i) {
        QVERIFY(first[i].ok());
        QVERIFY(first[i].probabilities == second[i].probabilities);
    }
}

void TrainTest::trainingJsonRecordsTheRun() {
    const std::string text = test::readFile(path("main") / "training.json");
    const QJsonObject record = QJsonDocument::fromJson(QByteArray::fromStdString(text)).object();
    QVERIFY(!record.isEmpty());
    QCOMPARE(record["command"].toString().toStdString(), mainOptions_.command);
    QCOMPARE(record["seed"].toInteger(), qint64(42));
    QVERIFY(!record["interrupted"].toBool(true));
    QVERIFY(QRegularExpression("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$")
                .match(record["finished"].toString())
                .hasMatch());

    // The data, by checksum.
    const QJsonArray data = record["data"].toArray();
    QCOMPARE(data.size(), 2);
    const std::vector<std::pair<std::string, Path>> files{{"train", sst2Train_}, {"dev", sst2Dev_}};
    for (int i = 0; i < 2; ++i) {
        const QJsonObject entry = data[i].toObject();
        QCOMPARE(entry["role"].toString().toStdString(), files[i].first);
        QCOMPARE(entry["file"].toString().toStdString(), files[i].second.filename().string());
        QCOMPARE(entry["sha256"].toString().toStdString(), sha256File(files[i].second));
        QCOMPARE(entry["bytes"].toInteger(), qint64(std::filesystem::file_size(files[i].second)));
    }
    QCOMPARE(record["rows"].toObject()["train"].toInteger(), qint64(400));
    QCOMPARE(record["rows"].toObject()["dev"].toInteger(), qint64(100));

    // Every epoch's metrics, as the result holds them.
    const QJsonArray epochs = record["epochs"].toArray();
    QCOMPARE(epochs.size(), 3);
    double seconds = 0;
    for (int i = 0; i < epochs.size(); ++i) {
        const QJsonObject e = epochs[i].toObject();
        const EpochMetrics& m = main_.epochs[static_cast<size_t>(i)];
        QCOMPARE(e["epoch"].toInt(), i + 1);
        QCOMPARE(e["loss"].toDouble(), m.loss);
        QCOMPARE(e["aux_loss"].toDouble(), m.auxLoss);
        QCOMPARE(e["z_loss"].toDouble(), m.zLoss);
        QCOMPARE(e["dev_accuracy"].toDouble(), m.devAccuracy);
        QCOMPARE(e["dev_f1"].toDouble(), m.devF1);
        QCOMPARE(e["expert_entropy"].toDouble(), m.expertEntropy);
        QCOMPARE(e["min_expert_share"].toDouble(), m.minExpertShare);
        QCOMPARE(e["best"].toBool(), m.best);
        seconds += e["seconds"].toDouble();
    }
    QCOMPARE(record["best_epoch"].toInt(), main_.bestEpoch);

    // Wall time: positive, and no more than the call took.
    const double wall = record["wall_seconds"].toDouble();
    QVERIFY(wall > 0);
    QVERIFY2(wall <= mainElapsed_,
             qPrintable(QStringLiteral("%1 s recorded, %2 s elapsed").arg(wall).arg(mainElapsed_)));
    QVERIFY(std::abs(wall - seconds) < 1e-6);
    QCOMPARE(main_.seconds, wall);

    // The machine and software.
    const QJsonObject machine = record["machine"].toObject();
    QVERIFY(!machine["cpu"].toString().isEmpty());
    QVERIFY(machine["logical_cores"].toInt() >= 1);
    QCOMPARE(machine["torch_threads"].toInt(), 1);
    QCOMPARE(machine["device"].toString(), QStringLiteral("cpu"));
    QVERIFY(!record["software"].toObject()["libtorch"].toString().isEmpty());
    QVERIFY(!record["software"].toObject()["sida"].toString().isEmpty());
    const QJsonObject recipe = record["recipe"].toObject();
    QCOMPARE(recipe["d_model"].toInt(), 32);
    QCOMPARE(recipe["experts"].toInt(), 4);
    QCOMPARE(recipe["epochs"].toInt(), 3);
    QVERIFY(recipe["tokenizer_trained"].toBool());

    // The loaded model carries the record.
    QCOMPARE(Model::load(path("main"), cpuLoad(64))->info().trainingRecord, text);
}

// `sida train`, then `sida eval`: the CLI records its command line, and eval of the saved model
// reports the dev accuracy training recorded. Stored in float32, the saved weights are exactly
// those training evaluated (bfloat16, the default, rounds them after the dev pass).
void TrainTest::cliTrainThenEval() {
    const std::string out = path("cli").string();
    std::string stdoutText, stderrText;
    const std::vector<std::string> train{"train",
                                         "--data",
                                         sst2Train_.string(),
                                         "--dev",
                                         sst2Dev_.string(),
                                         "--out",
                                         out,
                                         "--d-model",
                                         "32",
                                         "--layers",
                                         "2",
                                         "--heads",
                                         "4",
                                         "--d-kv",
                                         "8",
                                         "--d-ff",
                                         "64",
                                         "--experts",
                                         "4",
                                         "--sparse-step",
                                         "1",
                                         "--vocab",
                                         "300",
                                         "--epochs",
                                         "2",
                                         "--batch",
                                         "16",
                                         "--lr",
                                         "0.003",
                                         "--warmup",
                                         "10",
                                         "--max-length",
                                         "64",
                                         "--threads",
                                         "1",
                                         "--device",
                                         "cpu",
                                         "--storage",
                                         "float32"};
    QCOMPARE(test::runCli(train, &stdoutText, &stderrText), 0);
    QVERIFY2(stdoutText.find("epoch 2/2") != std::string::npos, stdoutText.c_str());
    const QJsonObject record = readJson(path("cli") / "training.json");
    const QString command = record["command"].toString();
    QVERIFY2(command.startsWith("sida train") && command.contains("--experts 4") &&
                 command.contains(QString::fromStdString(sst2Train_.string())),
             qPrintable(command));
    QCOMPARE(record["recipe"].toObject()["storage_dtype"].toString(), QStringLiteral("float32"));

    QCOMPARE(test::runCli({"eval", out, "--data", sst2Dev_.string(), "--json", "--max-length", "64",
                           "--threads", "1", "--device", "cpu"},
                          &stdoutText, &stderrText),
             0);
    const QJsonObject eval = QJsonDocument::fromJson(QByteArray::fromStdString(stdoutText)).object();
    QCOMPARE(eval["n"].toInt(), 100);
    QCOMPARE(eval["accuracy"].toDouble(), record["best_dev_accuracy"].toDouble());
}

// MRPC: a byte-order mark, a header with #1 String / #2 String, sentence pairs.
void TrainTest::sentencePairs() {
    const Path train = path("mrpc-train.tsv"), dev = path("mrpc-dev.tsv");
    test::writeRows(test::glue("MRPC/train.tsv"), train, 0, 300);
    test::writeRows(test::glue("MRPC/train.tsv"), dev, 300, 60);
    const Dataset devData = readDataset(dev);
    QVERIFY(devData.hadByteOrderMark);
    QCOMPARE(devData.layout, std::string("MRPC"));
    QVERIFY(devData.examples.front().pair.has_value());

    TrainOptions options = tinyOptions(train, dev, path("mrpc"));
    options.optimizer.epochs = 2;
    options.maxLength = 128;
    const TrainResult result = trainClassifier(options);
    QCOMPARE(result.epochs.size(), size_t(2));
    QVERIFY(result.epochs.back().loss < result.epochs.front().loss);
    QCOMPARE(readJson(path("mrpc") / "training.json")["rows"].toObject()["train"].toInteger(), qint64(300));

    const auto model = Model::load(path("mrpc"), cpuLoad(128));
    QCOMPARE(model->info().labels, (std::vector<std::string>{"0", "1"}));
    const EvalReport report = evaluate(*model, devData);
    QCOMPARE(report.n, int64_t(60));
    QCOMPARE(report.accuracy, result.bestDevAccuracy);

    // Pairs are classified as pairs: both sentences' tokens count, and the second sentence
    // changes the answer's probabilities.
    const Example& e = devData.examples.front();
    const auto results = model->classify({{e.text, e.pair}, {e.text, std::nullopt}});
    QVERIFY(results[0].ok() && results[1].ok());
    QCOMPARE(results[0].tokens, int64_t(model->tokenizer().encodePair(e.text, *e.pair, 128).ids.size()));
    QVERIFY(results[0].tokens > results[1].tokens);
    QVERIFY(results[0].probabilities != results[1].probabilities);
}

// Options without randomness in the steps (no dropout, no jitter), so that a run that was
// stopped and resumed must end exactly where an uninterrupted one does.
TrainOptions TrainTest::deterministicOptions(const Path& out) const {
    TrainOptions options = tinyOptions(sst2Train_, sst2Dev_, out);
    options.optimizer.epochs = 2;
    options.optimizer.dropout = 0;
    options.optimizer.routerJitter = 0;
    options.tokenizer = path("main") / "spiece.model";
    return options;
}

void TrainTest::cancelAndResume_data() {
    QTest::addColumn<int>("cancelAfterSteps");
    QTest::addColumn<int>("epochsDone");
    // 400 rows in batches of 16: 25 steps an epoch.
    QTest::newRow("in the first epoch") << 10 << 0;
    QTest::newRow("at the end of the first epoch") << 25 << 1;
    QTest::newRow("in the second epoch") << 31 << 1;
}

void TrainTest::cancelAndResume() {
    QFETCH(int, cancelAfterSteps);
    QFETCH(int, epochsDone);
    if (referenceDir_.empty()) {
        referenceDir_ = path("resume-reference");
        reference_ = trainClassifier(deterministicOptions(referenceDir_));
    }
    const Path out = path("resume-" + std::to_string(cancelAfterSteps));
    const CancelToken cancel;
    int steps = 0;
    const ProgressCallback progress = [&](const Progress& p) {
        if (p.stage.rfind("epoch", 0) == 0 && ++steps == cancelAfterSteps) cancel.cancel();
    };
    TrainResult stopped;
    try {
        stopped = trainClassifier(deterministicOptions(out), progress, cancel);
    } catch (const std::exception& e) {
        QFAIL(qPrintable(QStringLiteral("cancelling threw instead of saving the state: ") + e.what()));
    }
    QVERIFY(stopped.interrupted);
    QCOMPARE(stopped.epochs.size(), size_t(epochsDone));
    QCOMPARE(steps, cancelAfterSteps); // no step ran after the cancel
    const QJsonObject position = readJson(out / "training-state" / "position.json");
    QCOMPARE(position["epoch"].toInt() * 25 + position["batch"].toInt(), cancelAfterSteps);
    QVERIFY(std::filesystem::exists(out / "training-state" / "state.pt"));
    QVERIFY(readJson(out / "training.json")["interrupted"].toBool());
    QCOMPARE(std::filesystem::exists(out / "model.safetensors"), epochsDone > 0);

    TrainOptions resume = deterministicOptions(out);
    resume.resume = true;
    steps = 0;
    const TrainResult finished = trainClassifier(resume, progress);
    QVERIFY(!finished.interrupted);
    QCOMPARE(steps, 50 - cancelAfterSteps);
    // Exactly the uninterrupted run: metrics (the interrupted epoch's too) and weights.
    QCOMPARE(losses(finished.epochs), losses(reference_.epochs));
    for (size_t i = 0; i < finished.epochs.size(); ++i) {
        QCOMPARE(finished.epochs[i].auxLoss, reference_.epochs[i].auxLoss);
        QCOMPARE(finished.epochs[i].devAccuracy, reference_.epochs[i].devAccuracy);
    }
    QCOMPARE(finished.bestEpoch, reference_.bestEpoch);
    QCOMPARE(sha256File(out / "model.safetensors"), sha256File(referenceDir_ / "model.safetensors"));
    const QJsonObject record = readJson(out / "training.json");
    QVERIFY(!record["interrupted"].toBool(true));
    QCOMPARE(record["epochs"].toArray().size(), 2);
}

void TrainTest::resumeRefusesAnotherRun() {
    TrainOptions nothing = deterministicOptions(path("resume-nothing"));
    nothing.resume = true;
    QString problem = test::errorProblem([&] { trainClassifier(nothing); }, {"nothing to resume"});
    QVERIFY2(problem.isEmpty(), qPrintable(problem));

    // A saved state of another architecture.
    const CancelToken cancel;
    const Path out = path("resume-other");
    trainClassifier(
        deterministicOptions(out),
        [&](const Progress& p) {
            if (p.stage.rfind("epoch", 0) == 0) cancel.cancel();
        },
        cancel);
    TrainOptions wider = deterministicOptions(out);
    wider.architecture.dModel = 48;
    wider.resume = true;
    problem = test::errorProblem([&] { trainClassifier(wider); }, {"different model configuration"});
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void TrainTest::finetune_data() {
    QTest::addColumn<bool>("headOnly");
    QTest::newRow("head only") << true;
    QTest::newRow("whole model") << false;
}

void TrainTest::finetune() {
    QFETCH(bool, headOnly);
    const Path fixture = test::fixture("hf/e4-step2-fp32");
    const Path out = path(headOnly ? "finetune-head" : "finetune-full");
    FinetuneOptions options;
    options.modelDir = fixture;
    options.trainData = path("sst2-train.tsv");
    options.devData = sst2Dev_;
    options.outDir = out;
    options.dataOptions.limit = 96;
    options.optimizer.epochs = 1;
    options.optimizer.batchSize = 16;
    options.optimizer.learningRate = 1e-3;
    options.optimizer.warmupSteps = 2;
    options.optimizer.headOnly = headOnly;
    options.maxLength = 64;
    options.threads = 1;
    options.device = "cpu";
    options.labelNames = {"negative", "positive"};
    const TrainResult result = finetuneClassifier(options);
    QCOMPARE(result.epochs.size(), size_t(1));
    QVERIFY(std::isfinite(result.epochs[0].loss));

    // Every tensor of the checkpoint is written, in float32; the head is new, and the rest is
    // unchanged exactly when only the head was trained.
    const SafetensorsFile before(fixture / "model.safetensors"), after(out / "model.safetensors");
    QCOMPARE(after.header().tensors.size(), before.header().tensors.size());
    int bodyChanged = 0, body = 0;
    for (const TensorInfo& t : before.header().tensors) {
        const TensorInfo* written = after.header().find(t.name);
        QVERIFY2(written, t.name.c_str());
        QCOMPARE(written->shape, t.shape);
        QCOMPARE(dtypeName(written->dtype), dtypeName(t.dtype));
        const auto a = before.data(t), b = after.data(*written);
        const bool same = a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
        if (t.name.rfind("classifier.", 0) == 0) {
            QVERIFY2(!same, t.name.c_str());
            continue;
        }
        ++body;
        bodyChanged += same ? 0 : 1;
        if (headOnly) QVERIFY2(same, t.name.c_str());
    }
    QVERIFY(body > 20);
    // Trained whole, every weight moves (gradients, or decay where an expert got no tokens).
    if (!headOnly) QCOMPARE(bodyChanged, body);

    const auto model = Model::load(out, cpuLoad(64));
    QCOMPARE(model->info().labels, (std::vector<std::string>{"negative", "positive"}));
    // The dev rows are limited like the training rows.
    QCOMPARE(evaluate(*model, readDataset(sst2Dev_, options.dataOptions)).accuracy, result.bestDevAccuracy);
    const QJsonObject record = readJson(out / "training.json");
    QCOMPARE(record["recipe"].toObject()["head_only"].toBool(), headOnly);
    QVERIFY(record["finetuned_from"].toString().endsWith("e4-step2-fp32"));
}

void TrainTest::badTrainingSettings_data() {
    QTest::addColumn<TrainEdit>("edit");
    QTest::addColumn<QString>("named");
    auto row = [](const char* name, TrainEdit edit, const char* named) {
        QTest::newRow(name) << edit << QString(named);
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    row(
        "no training data", [](TrainOptions& o) { o.trainData.clear(); }, "training data");
    row(
        "missing training data", [](TrainOptions& o) { o.trainData = "/nonexistent/train.tsv"; },
        "/nonexistent/train.tsv");
    row(
        "no output folder", [](TrainOptions& o) { o.outDir.clear(); }, "output folder");
    row(
        "d_model 0", [](TrainOptions& o) { o.architecture.dModel = 0; }, "d_model");
    row(
        "0 layers", [](TrainOptions& o) { o.architecture.numLayers = 0; }, "layers");
    row(
        "0 heads", [](TrainOptions& o) { o.architecture.numHeads = 0; }, "heads");
    row(
        "d_kv 0", [](TrainOptions& o) { o.architecture.dKv = 0; }, "d_kv");
    row(
        "d_ff -1", [](TrainOptions& o) { o.architecture.dFf = -1; }, "d_ff");
    row(
        "0 experts", [](TrainOptions& o) { o.architecture.numExperts = 0; }, "experts");
    row(
        "sparse step past the layers", [](TrainOptions& o) { o.architecture.sparseStep = 3; }, "sparse step");
    row(
        "capacity 0", [](TrainOptions& o) { o.architecture.expertCapacity = 0; }, "capacity");
    row(
        "max length 2", [](TrainOptions& o) { o.maxLength = 2; }, "max length");
    row(
        "0 epochs", [](TrainOptions& o) { o.optimizer.epochs = 0; }, "epochs");
    row(
        "batch size 0", [](TrainOptions& o) { o.optimizer.batchSize = 0; }, "batch size");
    row(
        "learning rate 0", [](TrainOptions& o) { o.optimizer.learningRate = 0; }, "learning rate");
    row(
        "learning rate NaN", [=](TrainOptions& o) { o.optimizer.learningRate = nan; }, "learning rate");
    row(
        "negative weight decay", [](TrainOptions& o) { o.optimizer.weightDecay = -0.1; }, "weight decay");
    row(
        "weight decay NaN", [=](TrainOptions& o) { o.optimizer.weightDecay = nan; }, "weight decay");
    row(
        "dropout 1", [](TrainOptions& o) { o.optimizer.dropout = 1; }, "dropout");
    row(
        "negative jitter", [](TrainOptions& o) { o.optimizer.routerJitter = -0.1; }, "router jitter");
    row(
        "negative warm-up", [](TrainOptions& o) { o.optimizer.warmupSteps = -1; }, "warm-up");
    row(
        "clip norm 0", [](TrainOptions& o) { o.optimizer.clipNorm = 0; }, "clipping");
    row(
        "negative load-balancing weight", [](TrainOptions& o) { o.optimizer.loadBalanceWeight = -1; },
        "load-balancing");
    row(
        "negative z-loss weight", [](TrainOptions& o) { o.optimizer.zLossWeight = -1; }, "z-loss");
    row(
        "token-routing weight NaN", [=](TrainOptions& o) { o.optimizer.tokenRoutingWeight = nan; },
        "token-routing");
    row(
        "storage float16", [](TrainOptions& o) { o.storageDType = "float16"; }, "storage dtype 'float16'");
    row(
        "unknown device", [](TrainOptions& o) { o.device = "tpu"; }, "device 'tpu'");
    row(
        "too few tokenizer pieces", [](TrainOptions& o) { o.architecture.vocabPieces = 3; }, "--vocab 3");
    row(
        "label names of the wrong count",
        [](TrainOptions& o) {
            o.labelNames = {"a", "b", "c"};
        },
        "label names");
    row(
        "missing tokenizer", [](TrainOptions& o) { o.tokenizer = "/nonexistent/spiece.model"; },
        "/nonexistent/spiece.model");
}

void TrainTest::badTrainingSettings() {
    QFETCH(TrainEdit, edit);
    QFETCH(QString, named);
    static int runs = 0;
    TrainOptions options = tinyOptions(smallTrain_, {}, path("bad-" + std::to_string(++runs)));
    options.optimizer.epochs = 1;
    edit(options);
    const QString problem = test::errorProblem([&] { trainClassifier(options); }, {named.toStdString()});
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void TrainTest::badFinetuneSettings_data() {
    QTest::addColumn<FinetuneEdit>("edit");
    QTest::addColumn<QString>("named");
    auto row = [](const char* name, FinetuneEdit edit, const char* named) {
        QTest::newRow(name) << edit << QString(named);
    };
    row(
        "0 epochs", [](FinetuneOptions& o) { o.optimizer.epochs = 0; }, "epochs");
    row(
        "batch size 0", [](FinetuneOptions& o) { o.optimizer.batchSize = 0; }, "batch size");
    row(
        "negative learning rate", [](FinetuneOptions& o) { o.optimizer.learningRate = -1; }, "learning rate");
    row(
        "dropout 1.5", [](FinetuneOptions& o) { o.optimizer.dropout = 1.5; }, "dropout");
    row(
        "negative weight decay", [](FinetuneOptions& o) { o.optimizer.weightDecay = -1; }, "weight decay");
    row(
        "negative warm-up", [](FinetuneOptions& o) { o.optimizer.warmupSteps = -5; }, "warm-up");
    row(
        "clip norm 0", [](FinetuneOptions& o) { o.optimizer.clipNorm = 0; }, "clipping");
    row(
        "jitter 1", [](FinetuneOptions& o) { o.optimizer.routerJitter = 1; }, "router jitter");
    row(
        "max length 0", [](FinetuneOptions& o) { o.maxLength = 0; }, "max length");
    row(
        "no output folder", [](FinetuneOptions& o) { o.outDir.clear(); }, "output folder");
    row(
        "storage int8", [](FinetuneOptions& o) { o.storageDType = "int8"; }, "storage dtype 'int8'");
    row(
        "missing checkpoint", [](FinetuneOptions& o) { o.modelDir = "/nonexistent/model"; },
        "/nonexistent/model");
}

void TrainTest::badFinetuneSettings() {
    QFETCH(FinetuneEdit, edit);
    QFETCH(QString, named);
    static int runs = 0;
    FinetuneOptions options;
    options.modelDir = test::fixture("hf/e4-step2-fp32");
    options.trainData = smallTrain_;
    options.outDir = path("bad-finetune-" + std::to_string(++runs));
    options.optimizer.epochs = 1;
    options.threads = 1;
    options.device = "cpu";
    edit(options);
    const QString problem = test::errorProblem([&] { finetuneClassifier(options); }, {named.toStdString()});
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

QTEST_GUILESS_MAIN(TrainTest)
#include "tst_train.moc"
