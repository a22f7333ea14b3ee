// SPDX-License-Identifier: MIT
// The `sida` executable end to end: --version, info and classify on every fixture model (JSON
// checked against transformers' numbers and the spec's parameter formula), input files and
// standard input, per-line errors, usage errors (exit status 2), --help, bad model folders.
#include "test_printers.h"
#include "test_support.h"

#include "sida/model.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QtTest>

#include <cmath>
#include <sstream>

using namespace sida;

namespace {

std::string fixtureDir(const std::string& model) { return test::fixture("hf/" + model).string(); }

QJsonObject readMeta(const std::string& model) {
    QFile file(QString::fromStdString(test::fixture("hf/" + model + ".meta.json").string()));
    if (!file.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(file.readAll()).object();
}

// The spec's parameter count (sections 1 and 3), written independently of the engine: tied
// embedding, block 0's relative bias table, the final norm, per block attention and two norms,
// dense or sparse feed-forward, and the 2-label classifier head.
int64_t specParameterCount(const QJsonObject& config, const std::vector<int64_t>& sparseBlocks) {
    const int64_t V = config["vocab_size"].toInteger(), d = config["d_model"].toInteger(),
                  H = config["num_heads"].toInteger(), dkv = config["d_kv"].toInteger(),
                  dff = config["d_ff"].toInteger(), E = config["num_experts"].toInteger(),
                  buckets = config["relative_attention_num_buckets"].toInteger(),
                  layers = config["num_layers"].toInteger();
    const bool bias = config["router_bias"].toBool();
    int64_t total = V * d + buckets * H + d;
    for (int64_t i = 0; i < layers; ++i) {
        total += 4 * d * H * dkv + 2 * d;
        const bool sparse = std::find(sparseBlocks.begin(), sparseBlocks.end(), i) != sparseBlocks.end();
        total += sparse ? E * d + (bias ? E : 0) + E * 2 * d * dff : 2 * d * dff;
    }
    return total + d * d + d + 2 * d + 2;
}

std::vector<QJsonObject> jsonLines(const std::string& out) {
    std::vector<QJsonObject> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
        lines.push_back(QJsonDocument::fromJson(QByteArray::fromStdString(line)).object());
    return lines;
}

// A classified line: a label of the fixtures' two, a confidence that is the label's probability,
// probabilities in [0, 1] summing to 1. Returns what is wrong, or "".
QString checkClassifiedLine(const QJsonObject& line) {
    const QString label = line["label"].toString();
    if (label != "negative" && label != "positive") return "label '" + label + "'";
    const QJsonObject probabilities = line["probabilities"].toObject();
    if (probabilities.size() != 2)
        return "probabilities has " + QString::number(probabilities.size()) + " entries";
    double sum = 0;
    for (const QString& name : probabilities.keys()) {
        const double p = probabilities[name].toDouble(-1);
        if (p < 0 || p > 1) return "probability " + QString::number(p);
        sum += p;
    }
    if (std::abs(sum - 1) > 1e-6) return "probabilities sum to " + QString::number(sum, 'g', 17);
    const double confidence = line["confidence"].toDouble(-1);
    if (confidence < 0 || confidence > 1 || confidence != probabilities[label].toDouble())
        return "confidence " + QString::number(confidence);
    if (line["label_id"].toInt(-1) != (label == "positive" ? 1 : 0)) return "label_id disagrees with label";
    if (line["tokens"].toInt() < 1) return "no tokens";
    return {};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string tempFile(const QTemporaryDir& dir, const std::string& name, const std::string& content) {
    const auto path = std::filesystem::path(dir.path().toStdString()) / name;
    test::writeFile(path, content);
    return path.string();
}

const std::vector<std::string> kLoadOptions{"--device", "--dtype", "--threads", "--max-length", "--no-drop"};

} // namespace

class CliTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void version();
    void info_data();
    void info();
    void classify_data();
    void classify();
    void classifyMatchesTheEngine();
    void batchSizeDoesNotChangeResults();
    void scaleByRouterChangesTheWeights();
    void inputFileAndStandardInput();
    void badInputLinesGetAnError();
    void usageErrors_data();
    void usageErrors();
    void helpOfEveryCommand();
    void badModelFolder();
};

void CliTest::version() {
    std::string out, err;
    QCOMPARE(test::runCli({"--version"}, &out, &err), 0);
    QVERIFY2(contains(out, "sida 0.1.0"), out.c_str());
    QVERIFY2(contains(out, "LibTorch"), out.c_str());
    QVERIFY2(err.empty(), err.c_str());
}

void CliTest::info_data() {
    QTest::addColumn<QString>("model");
    for (const auto& model : test::hfFixtureModels())
        QTest::newRow(model.c_str()) << QString::fromStdString(model);
}

void CliTest::info() {
    QFETCH(QString, model);
    const std::string name = model.toStdString();
    std::string out, err;
    QCOMPARE(test::runCli({"info", fixtureDir(name), "--json", "--device", "cpu"}, &out, &err), 0);
    const QJsonObject info = QJsonDocument::fromJson(QByteArray::fromStdString(out)).object();
    QVERIFY2(!info.isEmpty(), out.c_str());
    const QJsonObject meta = readMeta(name);
    QVERIFY(!meta.isEmpty());

    std::vector<int64_t> sparseBlocks, moeBlocks;
    for (const auto& b : meta["sparse_blocks"].toArray()) sparseBlocks.push_back(b.toInteger());
    for (const auto& b : info["moe_blocks"].toArray()) moeBlocks.push_back(b.toInteger());
    QCOMPARE(moeBlocks, sparseBlocks);

    // The count transformers reported, and the spec's formula: all three agree.
    const int64_t parameters = info["parameters"].toInteger();
    QCOMPARE(parameters, meta["parameters"].toInteger());
    QCOMPARE(parameters, specParameterCount(meta["config"].toObject(), sparseBlocks));

    QCOMPARE(info["labels"].toArray(), (QJsonArray{"negative", "positive"}));
    QCOMPARE(info["device"].toString(), QString("cpu"));
    QCOMPARE(info["tokenizer_pieces"].toInt(), 1000);

    // Stored dtypes: one count per tensor of the checkpoint; the bf16 fixture keeps its routers
    // in float32, like google/switch-base-8.
    const QJsonObject stored = info["stored_dtypes"].toObject();
    const Checkpoint checkpoint(fixtureDir(name));
    int64_t tensors = 0;
    for (const QString& dtype : stored.keys()) tensors += stored[dtype].toInteger();
    QCOMPARE(tensors, static_cast<int64_t>(checkpoint.tensorNames().size()));
    QCOMPARE(static_cast<uint64_t>(info["checkpoint_bytes"].toInteger()), checkpoint.totalBytes());
    if (meta["storage"].toString() == "mixed-bf16") {
        QCOMPARE(stored.keys(), (QStringList{"BF16", "F32"}));
        QCOMPARE(stored["F32"].toInteger(), static_cast<int64_t>(sparseBlocks.size()));
    } else {
        QCOMPARE(stored.keys(), QStringList{"F32"});
    }
    QCOMPARE(info["checkpoint_files"].toInt(), meta["storage"].toString() == "sharded" ? 5 : 1);
}

void CliTest::classify_data() { info_data(); }

void CliTest::classify() {
    QFETCH(QString, model);
    const std::vector<std::string> texts{"a gripping , funny and moving film", "dull and lifeless",
                                         "the first sentence\tthe second one"};
    std::vector<std::string> args{"classify", fixtureDir(model.toStdString()), "--json", "--device", "cpu"};
    args.insert(args.end(), texts.begin(), texts.end());
    std::string out, err;
    QCOMPARE(test::runCli(args, &out, &err), 0);
    const auto lines = jsonLines(out);
    QCOMPARE(lines.size(), texts.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        const QString problem = checkClassifiedLine(lines[i]);
        QVERIFY2(problem.isEmpty(), qPrintable(QString("line %1: %2").arg(i).arg(problem)));
        QCOMPARE(lines[i]["index"].toInt(), static_cast<int>(i));
        QVERIFY(!lines[i].contains("error"));
    }
    QCOMPARE(lines[0]["text"].toString(), QString::fromStdString(texts[0]));
    QVERIFY(!lines[0].contains("pair"));
    QCOMPARE(lines[2]["text"].toString(), QString("the first sentence"));
    QCOMPARE(lines[2]["pair"].toString(), QString("the second one"));
}

// The CLI prints what the engine computes, with the probabilities at full precision.
void CliTest::classifyMatchesTheEngine() {
    const std::string dir = fixtureDir("e8-step1-bias-fp32");
    const std::vector<TextInput> inputs{{"an honest , touching story", std::nullopt},
                                        {"first half", std::string("second half")}};
    std::string out;
    QCOMPARE(test::runCli({"classify", dir, "--json", "--device", "cpu", "an honest , touching story",
                           "first half\tsecond half"},
                          &out),
             0);
    const auto lines = jsonLines(out);
    const auto results = Model::load(dir, {.device = "cpu"})->classify(inputs);
    QCOMPARE(lines.size(), results.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        QCOMPARE(lines[i]["label"].toString().toStdString(), results[i].labelName);
        QCOMPARE(lines[i]["tokens"].toInteger(), results[i].tokens);
        const QJsonObject probabilities = lines[i]["probabilities"].toObject();
        QVERIFY(std::abs(probabilities["negative"].toDouble() - results[i].probabilities[0]) < 1e-6);
        QVERIFY(std::abs(probabilities["positive"].toDouble() - results[i].probabilities[1]) < 1e-6);
    }
}

void CliTest::batchSizeDoesNotChangeResults() {
    const std::string dir = fixtureDir("e4-step2-fp32");
    const std::vector<std::string> texts{"short", "a somewhat longer sentence about a film",
                                         "mid length text", "x"};
    std::vector<std::vector<QJsonObject>> runs;
    for (const char* batch : {"1", "3", "16"}) {
        std::vector<std::string> args{"classify", dir, "--json", "--device", "cpu", "--batch", batch};
        args.insert(args.end(), texts.begin(), texts.end());
        std::string out;
        QCOMPARE(test::runCli(args, &out), 0);
        runs.push_back(jsonLines(out));
        QCOMPARE(runs.back().size(), texts.size());
    }
    for (size_t i = 0; i < texts.size(); ++i)
        for (size_t r = 1; r < runs.size(); ++r) {
            QCOMPARE(runs[r][i]["label"], runs[0][i]["label"]);
            QVERIFY(std::abs(runs[r][i]["confidence"].toDouble() - runs[0][i]["confidence"].toDouble()) <
                    1e-6);
        }
}

// --scale-by-router: the sida policy weights each expert by the router's probability instead of
// the predictor's, so confidences move while the run still succeeds.
void CliTest::scaleByRouterChangesTheWeights() {
    QTemporaryDir dir;
    const std::string model = test::fixtureWithPredictor(dir).string();
    const std::vector<std::string> texts{"a somewhat longer sentence about a film", "mid length text"};
    std::vector<std::vector<QJsonObject>> runs;
    for (const bool byRouter : {false, true}) {
        std::vector<std::string> args{"classify", model, "--json", "--device", "cpu", "--policy", "sida"};
        if (byRouter) args.push_back("--scale-by-router");
        args.insert(args.end(), texts.begin(), texts.end());
        std::string out;
        QCOMPARE(test::runCli(args, &out), 0);
        runs.push_back(jsonLines(out));
        QCOMPARE(runs.back().size(), texts.size());
    }
    bool moved = false;
    for (size_t i = 0; i < texts.size(); ++i)
        moved |= std::abs(runs[1][i]["confidence"].toDouble() - runs[0][i]["confidence"].toDouble()) > 1e-7;
    QVERIFY(moved);
}

void CliTest::inputFileAndStandardInput() {
    QTemporaryDir dir;
    const std::string content = "\xEF\xBB\xBFgood movie\r\nthe first\tthe second\nlast line without newline";
    const std::string path = tempFile(dir, "inputs.txt", content);
    const std::string model = fixtureDir("e4-step2-fp32");

    std::string fromFile, err;
    QCOMPARE(test::runCli({"classify", model, "--json", "--device", "cpu", "--file", path}, &fromFile, &err),
             0);
    const auto lines = jsonLines(fromFile);
    QCOMPARE(lines.size(), size_t(3));
    for (const auto& line : lines)
        QVERIFY2(checkClassifiedLine(line).isEmpty(), qPrintable(checkClassifiedLine(line)));
    QCOMPARE(lines[0]["text"].toString(), QString("good movie")); // BOM and CR removed
    QCOMPARE(lines[1]["text"].toString(), QString("the first"));
    QCOMPARE(lines[1]["pair"].toString(), QString("the second"));
    QCOMPARE(lines[2]["text"].toString(), QString("last line without newline"));

    std::string fromStdin;
    QCOMPARE(test::runCli({"classify", model, "--json", "--device", "cpu", "--file", "-"}, &fromStdin, &err,
                          content),
             0);
    QCOMPARE(fromStdin, fromFile);

    // --model instead of the positional folder.
    std::string viaOption;
    QCOMPARE(
        test::runCli({"classify", "--model", model, "--json", "--device", "cpu", "--file", path}, &viaOption),
        0);
    QCOMPARE(viaOption, fromFile);

    std::string missingErr;
    QCOMPARE(test::runCli({"classify", model, "--device", "cpu", "--file", path + ".absent"}, nullptr,
                          &missingErr),
             1);
    QVERIFY2(contains(missingErr, path + ".absent"), missingErr.c_str());

    // A folder given as the input file is an error naming it, not an empty input.
    std::string folderErr;
    QCOMPARE(test::runCli({"classify", model, "--device", "cpu", "--file", dir.path().toStdString()}, nullptr,
                          &folderErr),
             1);
    QVERIFY2(contains(folderErr, dir.path().toStdString()), folderErr.c_str());
    QVERIFY2(contains(folderErr, "folder"), folderErr.c_str());
}

void CliTest::badInputLinesGetAnError() {
    QTemporaryDir dir;
    const std::string path =
        tempFile(dir, "mixed.txt", "a fine film\n\nbad \xff byte\n   \nfirst\t\nanother one\n");
    const std::string model = fixtureDir("e4-step2-fp32");
    std::string out, err;
    QCOMPARE(test::runCli({"classify", model, "--json", "--device", "cpu", "--file", path}, &out, &err), 1);
    const auto lines = jsonLines(out);
    QCOMPARE(lines.size(), size_t(6));
    for (size_t i : {size_t(0), size_t(5)}) {
        QVERIFY2(checkClassifiedLine(lines[i]).isEmpty(), qPrintable(checkClassifiedLine(lines[i])));
        QVERIFY(!lines[i].contains("error"));
    }
    for (size_t i : {size_t(1), size_t(2), size_t(3), size_t(4)}) {
        QVERIFY2(!lines[i]["error"].toString().isEmpty(), qPrintable(QString("line %1 has no error").arg(i)));
        QVERIFY(!lines[i].contains("label"));
        QCOMPARE(lines[i]["index"].toInt(), static_cast<int>(i));
    }
    QVERIFY(lines[2]["error"].toString().contains("offset 4"));
    QVERIFY(lines[4]["error"].toString().contains("second sentence"));
    // The invalid byte reaches the JSON as U+FFFD, so the line stays valid JSON.
    QCOMPARE(lines[2]["text"].toString(), QString::fromUtf8("bad \xEF\xBF\xBD byte"));

    // The plain-text output marks the same lines.
    std::string plain;
    QCOMPARE(test::runCli({"classify", model, "--device", "cpu", "--file", path}, &plain), 1);
    std::istringstream in(plain);
    std::vector<std::string> plainLines;
    for (std::string line; std::getline(in, line);) plainLines.push_back(line);
    QCOMPARE(plainLines.size(), size_t(6));
    QVERIFY(plainLines[1].rfind("error\t", 0) == 0);
    QVERIFY(plainLines[0].rfind("error\t", 0) != 0);
}

void CliTest::usageErrors_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("detail");
    const QString model = QString::fromStdString(fixtureDir("e4-step2-fp32"));
    QTest::newRow("unknown option") << QStringList{"classify", model, "--bogus", "text"}
                                    << "unknown option '--bogus'";
    QTest::newRow("unknown info option")
        << QStringList{"info", model, "--verbose"} << "unknown option '--verbose'";
    QTest::newRow("--batch abc") << QStringList{"classify", model, "text", "--batch", "abc"}
                                 << "--batch: 'abc' is not an integer";
    QTest::newRow("--batch 0") << QStringList{"classify", model, "text", "--batch", "0"}
                               << "--batch: 0 is out of range";
    QTest::newRow("--batch=-3") << QStringList{"classify", model, "text", "--batch=-3"} << "--batch";
    QTest::newRow("--batch missing value")
        << QStringList{"classify", model, "text", "--batch"} << "--batch needs a value";
    QTest::newRow("--threads missing value")
        << QStringList{"info", model, "--threads"} << "--threads needs a value";
    QTest::newRow("--max-length 2") << QStringList{"info", model, "--max-length", "2"} << "--max-length";
    QTest::newRow("--threads 1.5") << QStringList{"info", model, "--threads", "1.5"} << "--threads";
    QTest::newRow("flag with a value") << QStringList{"info", model, "--json=yes"} << "--json takes no value";
    QTest::newRow("unknown command") << QStringList{"frobnicate"} << "unknown command 'frobnicate'";
    QTest::newRow("no command") << QStringList{} << "usage: sida";
    QTest::newRow("nothing to classify") << QStringList{"classify", model} << "nothing to classify";
    QTest::newRow("texts and --file")
        << QStringList{"classify", model, "text", "--file", "x.txt"} << "not both";
    QTest::newRow("--paper with standard")
        << QStringList{"classify", model, "text", "--policy", "standard", "--paper"}
        << "--paper is a preset of the sida policy; --policy standard keeps its own semantics";
    QTest::newRow("--paper compared with ondemand")
        << QStringList{"bench", model, "--data", "x.tsv", "--compare", "sida,ondemand", "--paper"}
        << "ondemand keeps its own semantics";
    QTest::newRow("--io mmap") << QStringList{"info", model, "--io", "mmap"}
                               << "--io: use uring or pread, not 'mmap'";
    QTest::newRow("--eviction random")
        << QStringList{"classify", model, "text", "--eviction", "random"} << "use fifo, lru or plain-fifo";
    QTest::newRow("extra info argument")
        << QStringList{"info", model, "surplus"} << "unexpected argument 'surplus'";
}

// Exit status 2, a message naming the option on stderr, nothing on stdout.
void CliTest::usageErrors() {
    QFETCH(QStringList, arguments);
    QFETCH(QString, detail);
    std::vector<std::string> args;
    for (const QString& a : arguments) args.push_back(a.toStdString());
    std::string out, err;
    QCOMPARE(test::runCli(args, &out, &err), 2);
    QVERIFY2(contains(err, detail.toStdString()), err.c_str());
    QVERIFY2(out.empty(), out.c_str());
}

// Every command `sida --help` lists has a --help that exits 0; info's and classify's mention each
// of their options.
void CliTest::helpOfEveryCommand() {
    std::string overview;
    QCOMPARE(test::runCli({"--help"}, &overview), 0);
    QStringList commands;
    const QRegularExpression commandLine("^  ([a-z][a-z-]*) ", QRegularExpression::MultilineOption);
    for (auto it = commandLine.globalMatch(QString::fromStdString(overview)); it.hasNext();)
        commands << it.next().captured(1);
    QVERIFY2(commands.contains("info") && commands.contains("classify"), overview.c_str());

    std::map<std::string, std::vector<std::string>> options{
        {"info", {"--json"}},
        {"classify", {"--model", "--file", "--batch", "--json"}},
    };
    for (auto& [command, list] : options) list.insert(list.end(), kLoadOptions.begin(), kLoadOptions.end());
    for (const QString& command : commands) {
        for (const char* flag : {"--help", "-h"}) {
            std::string out, err;
            QCOMPARE(test::runCli({command.toStdString(), flag}, &out, &err), 0);
            QVERIFY2(contains(out, "usage: sida " + command.toStdString()), out.c_str());
            QVERIFY2(contains(out, "--help"), out.c_str());
            QVERIFY2(err.empty(), err.c_str());
            for (const std::string& option : options[command.toStdString()])
                QVERIFY2(contains(out, "  " + option),
                         qPrintable(command + " --help lacks " + option.c_str()));
        }
    }
}

void CliTest::badModelFolder() {
    QTemporaryDir temp;
    const std::string missing = temp.path().toStdString() + "/no-such-model";
    std::string out, err;
    QCOMPARE(test::runCli({"info", missing, "--device", "cpu"}, &out, &err), 1);
    QVERIFY2(contains(err, missing), err.c_str());
    QVERIFY2(contains(err, "does not exist"), err.c_str());
    QVERIFY2(out.empty(), out.c_str());

    QCOMPARE(test::runCli({"classify", "--model", missing, "--device", "cpu", "text"}, &out, &err), 1);
    QVERIFY2(contains(err, missing), err.c_str());
    QVERIFY2(out.empty(), out.c_str());

    // A folder that exists but whose weights are cut short: the error names the file.
    const auto broken = test::copyModel(test::fixture("hf/e4-step2-fp32"), temp, "broken");
    const auto weights = broken / "model.safetensors";
    const std::string bytes = test::readFile(weights);
    test::writeFile(weights, bytes.substr(0, bytes.size() / 2));
    QCOMPARE(test::runCli({"classify", broken.string(), "--json", "--device", "cpu", "text"}, &out, &err), 1);
    QVERIFY2(contains(err, weights.string()), err.c_str());
    QVERIFY2(out.empty(), out.c_str());
    QCOMPARE(test::runCli({"info", broken.string(), "--json", "--device", "cpu"}, &out, &err), 1);
    QVERIFY2(contains(err, weights.string()), err.c_str());
}

QTEST_GUILESS_MAIN(CliTest)
#include "tst_cli.moc"
