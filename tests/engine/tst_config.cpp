// SPDX-License-Identifier: MIT
// config.json as Hugging Face's SwitchTransformersConfig reads it: a real hub config, the
// sparse-step rule, the aliases, the classifier labels, the errors (each naming its field), and
// the round trip through switchConfigToJson.
#include "test_printers.h"
#include "test_support.h"

#include "sida/config.h"
#include "sida/errors.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>

using namespace sida;

Q_DECLARE_METATYPE(std::vector<int64_t>)
Q_DECLARE_METATYPE(std::vector<std::string>)

namespace {

const std::string kSource = "models/switch-base-8/config.json";

// google/switch-base-8's config.json, with the values of the spec's table (section 1) and the
// legacy and decoder keys the hub file carries.
const char* const kSwitchBase8 = R"json({
  "architectures": ["SwitchTransformersForConditionalGeneration"],
  "batch_prioritized_routing": false,
  "d_ff": 3072,
  "d_kv": 64,
  "d_model": 768,
  "decoder_sparse_step": 2,
  "decoder_start_token_id": 0,
  "dense_act_fn": "relu",
  "dropout_rate": 0.1,
  "encoder_sparse_step": 2,
  "eos_token_id": 1,
  "expert_capacity": 64,
  "feed_forward_proj": "relu",
  "initializer_factor": 1.0,
  "is_encoder_decoder": true,
  "is_gated_act": false,
  "layer_norm_epsilon": 1e-06,
  "model_type": "switch_transformers",
  "num_decoder_layers": 12,
  "num_experts": 8,
  "num_heads": 12,
  "num_layers": 12,
  "num_selected_experts": 1,
  "num_sparse_decoder_layers": 6,
  "num_sparse_encoder_layers": 6,
  "pad_token_id": 0,
  "relative_attention_max_distance": 128,
  "relative_attention_num_buckets": 32,
  "router_aux_loss_coef": 0.001,
  "router_bias": false,
  "router_dtype": "float32",
  "router_ignore_padding_tokens": false,
  "router_jitter_noise": 0.01,
  "router_type": "tokens_masked",
  "router_z_loss_coef": 0.001,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.24.0.dev0",
  "use_cache": true,
  "vocab_size": 32128
})json";

// A config.json holding only `fields` (a comma-separated list of "key": value); every other field
// takes the class default.
std::string configWith(const QString& fields) { return "{" + fields.toStdString() + "}"; }

SwitchConfig parse(const QString& fields) { return parseSwitchConfig(configWith(fields), kSource); }

// The message of the sida::Error that parsing throws, or "" when it parses.
std::string parseError(const QString& fields) {
    try {
        parse(fields);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

bool contains(const std::string& text, const QString& part) {
    return text.find(part.toStdString()) != std::string::npos;
}

QJsonObject readJson(const std::filesystem::path& path) {
    QFile file(QString::fromStdString(path.string()));
    if (!file.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(file.readAll()).object();
}

// Every field of SwitchConfig, compared one by one so that a failure names the field.
void compareEveryField(const SwitchConfig& actual, const SwitchConfig& expected) {
    QCOMPARE(actual.vocab_size, expected.vocab_size);
    QCOMPARE(actual.d_model, expected.d_model);
    QCOMPARE(actual.d_kv, expected.d_kv);
    QCOMPARE(actual.d_ff, expected.d_ff);
    QCOMPARE(actual.num_layers, expected.num_layers);
    QCOMPARE(actual.num_heads, expected.num_heads);
    QCOMPARE(actual.num_experts, expected.num_experts);
    QCOMPARE(actual.expert_capacity, expected.expert_capacity);
    QCOMPARE(actual.num_sparse_encoder_layers, expected.num_sparse_encoder_layers);
    QCOMPARE(actual.encoder_sparse_step, expected.encoder_sparse_step);
    QCOMPARE(actual.router_bias, expected.router_bias);
    QCOMPARE(actual.router_jitter_noise, expected.router_jitter_noise);
    QCOMPARE(actual.router_dtype, expected.router_dtype);
    QCOMPARE(actual.router_ignore_padding_tokens, expected.router_ignore_padding_tokens);
    QCOMPARE(actual.relative_attention_num_buckets, expected.relative_attention_num_buckets);
    QCOMPARE(actual.relative_attention_max_distance, expected.relative_attention_max_distance);
    QCOMPARE(actual.dropout_rate, expected.dropout_rate);
    QCOMPARE(actual.layer_norm_epsilon, expected.layer_norm_epsilon);
    QCOMPARE(actual.dense_act_fn, expected.dense_act_fn);
    QCOMPARE(actual.pad_token_id, expected.pad_token_id);
    QCOMPARE(actual.eos_token_id, expected.eos_token_id);
    QCOMPARE(actual.torch_dtype, expected.torch_dtype);
    QCOMPARE(actual.id2label, expected.id2label);
}

} // namespace

class ConfigTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parsesSwitchBase8();
    void classDefaultsWhenFieldsAreAbsent();
    void sparseStepRule_data();
    void sparseStepRule();
    void fixtureConfigsMatchTransformersSparseBlocks_data();
    void fixtureConfigsMatchTransformersSparseBlocks();
    void aliases_data();
    void aliases();
    void aliasContradictions_data();
    void aliasContradictions();
    void labels_data();
    void labels();
    void labelErrors_data();
    void labelErrors();
    void invalidFields_data();
    void invalidFields();
    void notAJsonObject_data();
    void notAJsonObject();
    void loadNamesMissingFile();
    void roundTrip_data();
    void roundTrip();
};

void ConfigTest::parsesSwitchBase8() {
    const SwitchConfig c = parseSwitchConfig(kSwitchBase8, kSource);
    QCOMPARE(c.vocab_size, 32128);
    QCOMPARE(c.d_model, 768);
    QCOMPARE(c.d_kv, 64);
    QCOMPARE(c.d_ff, 3072);
    QCOMPARE(c.num_layers, 12);
    QCOMPARE(c.num_heads, 12);
    QCOMPARE(c.num_experts, 8);
    QCOMPARE(c.expert_capacity, 64);
    QCOMPARE(c.num_sparse_encoder_layers, 6);
    QCOMPARE(c.encoder_sparse_step, 2);
    QCOMPARE(c.router_bias, false);
    QCOMPARE(c.router_jitter_noise, 0.01);
    QCOMPARE(c.router_dtype, std::string("float32"));
    QCOMPARE(c.router_ignore_padding_tokens, false);
    QCOMPARE(c.relative_attention_num_buckets, 32);
    QCOMPARE(c.relative_attention_max_distance, 128);
    QCOMPARE(c.dropout_rate, 0.1);
    QCOMPARE(c.layer_norm_epsilon, 1e-6);
    QCOMPARE(c.dense_act_fn, std::string("relu"));
    QCOMPARE(c.pad_token_id, 0);
    QCOMPARE(c.eos_token_id, 1);
    QCOMPARE(c.torch_dtype, std::string("bfloat16"));
    QVERIFY(c.id2label.empty());
    QCOMPARE(c.innerDim(), 768);
    QCOMPARE(c.sparseBlocks(), (std::vector<int64_t>{1, 3, 5, 7, 9, 11}));
    QVERIFY(!c.isSparse(0));
    QVERIFY(c.isSparse(11));
}

// The class defaults of configuration_switch_transformers.py (spec section 1), which differ from
// the released checkpoints: d_ff 2048 and 3 sparse layers, hence step 4.
void ConfigTest::classDefaultsWhenFieldsAreAbsent() {
    const SwitchConfig c = parse("");
    QCOMPARE(c.vocab_size, 32128);
    QCOMPARE(c.d_model, 768);
    QCOMPARE(c.d_ff, 2048);
    QCOMPARE(c.num_sparse_encoder_layers, 3);
    QCOMPARE(c.encoder_sparse_step, 4);
    QCOMPARE(c.sparseBlocks(), (std::vector<int64_t>{1, 5, 9}));
    QCOMPARE(c.layer_norm_epsilon, 1e-6);
    QCOMPARE(c.router_dtype, std::string("float32"));
    QCOMPARE(c.torch_dtype, std::string());
    QVERIFY(c.id2label.empty());
}

void ConfigTest::sparseStepRule_data() {
    QTest::addColumn<QString>("fields");
    QTest::addColumn<int64_t>("step");
    QTest::addColumn<std::vector<int64_t>>("blocks");
    QTest::newRow("derived 12 // 6 = 2") << R"("num_layers": 12, "num_sparse_encoder_layers": 6)"
                                         << int64_t(2) << std::vector<int64_t>{1, 3, 5, 7, 9, 11};
    QTest::newRow("derived 12 // 3 = 4") << R"("num_layers": 12, "num_sparse_encoder_layers": 3)"
                                         << int64_t(4) << std::vector<int64_t>{1, 5, 9};
    QTest::newRow("derived 12 // 5 = 2 (floor)") << R"("num_layers": 12, "num_sparse_encoder_layers": 5)"
                                                 << int64_t(2) << std::vector<int64_t>{1, 3, 5, 7, 9, 11};
    QTest::newRow("derived step 1: every block (c-2048)")
        << R"("num_layers": 15, "num_sparse_encoder_layers": 15)" << int64_t(1)
        << std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    QTest::newRow("no sparse layers: none")
        << R"("num_layers": 12, "num_sparse_encoder_layers": 0)" << int64_t(0) << std::vector<int64_t>{};
    QTest::newRow("JSON value wins over the derived one")
        << R"("num_layers": 12, "num_sparse_encoder_layers": 6, "encoder_sparse_step": 3)" << int64_t(3)
        << std::vector<int64_t>{1, 4, 7, 10};
    QTest::newRow("JSON step 4")
        << R"("num_layers": 12, "num_sparse_encoder_layers": 6, "encoder_sparse_step": 4)" << int64_t(4)
        << std::vector<int64_t>{1, 5, 9};
    QTest::newRow("JSON step 1: every block")
        << R"("num_layers": 4, "num_sparse_encoder_layers": 2, "encoder_sparse_step": 1)" << int64_t(1)
        << std::vector<int64_t>{0, 1, 2, 3};
    QTest::newRow("JSON step 0: none")
        << R"("num_layers": 12, "num_sparse_encoder_layers": 6, "encoder_sparse_step": 0)" << int64_t(0)
        << std::vector<int64_t>{};
    // What save_pretrained writes for num_sparse_encoder_layers 0: Transformers' "HACK" sets
    // the step to num_layers, which still makes block 1 sparse. The stored value wins.
    QTest::newRow("JSON step = num_layers with 0 sparse layers")
        << R"("num_layers": 4, "num_sparse_encoder_layers": 0, "encoder_sparse_step": 4)" << int64_t(4)
        << std::vector<int64_t>{1};
    QTest::newRow("single block, step 1")
        << R"("num_layers": 1, "num_sparse_encoder_layers": 1)" << int64_t(1) << std::vector<int64_t>{0};
}

void ConfigTest::sparseStepRule() {
    QFETCH(QString, fields);
    QFETCH(int64_t, step);
    QFETCH(std::vector<int64_t>, blocks);
    const SwitchConfig c = parse(fields);
    QCOMPARE(c.encoder_sparse_step, step);
    QCOMPARE(c.sparseBlocks(), blocks);
    for (int64_t i = 0; i < c.num_layers; ++i)
        QCOMPARE(c.isSparse(i), std::find(blocks.begin(), blocks.end(), i) != blocks.end());
}

// The committed configs were written by transformers 4.57.6, which also recorded which blocks it
// built with a router.
void ConfigTest::fixtureConfigsMatchTransformersSparseBlocks_data() {
    QTest::addColumn<QString>("model");
    for (const auto& model : test::hfFixtureModels())
        QTest::newRow(model.c_str()) << QString::fromStdString(model);
}

void ConfigTest::fixtureConfigsMatchTransformersSparseBlocks() {
    QFETCH(QString, model);
    const std::string name = model.toStdString();
    const SwitchConfig c = loadSwitchConfig(test::fixture("hf/" + name + "/config.json"));
    const QJsonObject meta = readJson(test::fixture("hf/" + name + ".meta.json"));
    QVERIFY(!meta.isEmpty());
    std::vector<int64_t> expected;
    for (const auto& block : meta["sparse_blocks"].toArray()) expected.push_back(block.toInteger());
    QVERIFY(!expected.empty());
    QCOMPARE(c.sparseBlocks(), expected);
    const QJsonObject config = meta["config"].toObject();
    QCOMPARE(c.d_model, config["d_model"].toInteger());
    QCOMPARE(c.num_experts, config["num_experts"].toInteger());
    QCOMPARE(c.router_bias, config["router_bias"].toBool());
    QCOMPARE(c.id2label, (std::vector<std::string>{"negative", "positive"}));
}

void ConfigTest::aliases_data() {
    QTest::addColumn<QString>("fields");
    QTest::addColumn<int64_t>("dModel");
    QTest::addColumn<int64_t>("layers");
    QTest::addColumn<int64_t>("heads");
    QTest::newRow("hidden_size") << R"("hidden_size": 512)" << int64_t(512) << int64_t(12) << int64_t(12);
    QTest::newRow("num_hidden_layers")
        << R"("num_hidden_layers": 6)" << int64_t(768) << int64_t(6) << int64_t(12);
    QTest::newRow("num_attention_heads")
        << R"("num_attention_heads": 8)" << int64_t(768) << int64_t(12) << int64_t(8);
    QTest::newRow("all three aliases")
        << R"("hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_sparse_encoder_layers": 1)"
        << int64_t(256) << int64_t(2) << int64_t(4);
    QTest::newRow("alias equal to its field")
        << R"("d_model": 1024, "hidden_size": 1024)" << int64_t(1024) << int64_t(12) << int64_t(12);
}

void ConfigTest::aliases() {
    QFETCH(QString, fields);
    QFETCH(int64_t, dModel);
    QFETCH(int64_t, layers);
    QFETCH(int64_t, heads);
    const SwitchConfig c = parse(fields);
    QCOMPARE(c.d_model, dModel);
    QCOMPARE(c.num_layers, layers);
    QCOMPARE(c.num_heads, heads);
}

void ConfigTest::aliasContradictions_data() {
    QTest::addColumn<QString>("fields");
    QTest::addColumn<QString>("alias");
    QTest::addColumn<QString>("canonical");
    QTest::newRow("hidden_size vs d_model") << R"("d_model": 768, "hidden_size": 512)"
                                            << "hidden_size"
                                            << "d_model";
    QTest::newRow("num_hidden_layers vs num_layers") << R"("num_layers": 12, "num_hidden_layers": 24)"
                                                     << "num_hidden_layers"
                                                     << "num_layers";
    QTest::newRow("num_attention_heads vs num_heads") << R"("num_heads": 12, "num_attention_heads": 16)"
                                                      << "num_attention_heads"
                                                      << "num_heads";
}

void ConfigTest::aliasContradictions() {
    QFETCH(QString, fields);
    QFETCH(QString, alias);
    QFETCH(QString, canonical);
    const std::string message = parseError(fields);
    QVERIFY2(!message.empty(), "contradicting alias accepted");
    QVERIFY2(contains(message, "field '" + alias + "'"), message.c_str());
    QVERIFY2(contains(message, "'" + canonical + "'"), message.c_str());
    QVERIFY2(contains(message, QString::fromStdString(kSource)), message.c_str());
}

void ConfigTest::labels_data() {
    QTest::addColumn<QString>("fields");
    QTest::addColumn<std::vector<std::string>>("labels");
    QTest::newRow("id2label") << R"("id2label": {"0": "negative", "1": "positive"})"
                              << std::vector<std::string>{"negative", "positive"};
    QTest::newRow("id2label keys out of order")
        << R"("id2label": {"2": "c", "0": "a", "1": "b"})" << std::vector<std::string>{"a", "b", "c"};
    QTest::newRow("id2label and consistent label2id")
        << R"("id2label": {"0": "neg", "1": "pos"}, "label2id": {"pos": 1, "neg": 0})"
        << std::vector<std::string>{"neg", "pos"};
    QTest::newRow("num_labels alone names LABEL_i")
        << R"("num_labels": 3)" << std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"};
    QTest::newRow("num_labels agreeing with id2label")
        << R"("num_labels": 2, "id2label": {"0": "no", "1": "yes"})" << std::vector<std::string>{"no", "yes"};
    QTest::newRow("all three")
        << R"("num_labels": 2, "id2label": {"0": "no", "1": "yes"}, "label2id": {"no": 0, "yes": 1})"
        << std::vector<std::string>{"no", "yes"};
    QTest::newRow("no labels") << "" << std::vector<std::string>{};
    QTest::newRow("label2id alone is ignored") << R"("label2id": {"a": 0})" << std::vector<std::string>{};
    QTest::newRow("unicode names") << R"("id2label": {"0": "négatif", "1": "正"})"
                                   << std::vector<std::string>{"négatif", "正"};
}

void ConfigTest::labels() {
    QFETCH(QString, fields);
    QFETCH(std::vector<std::string>, labels);
    QCOMPARE(parse(fields).id2label, labels);
}

void ConfigTest::labelErrors_data() {
    QTest::addColumn<QString>("fields");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("detail");
    QTest::newRow("id2label is an array") << R"("id2label": ["a", "b"])"
                                          << "id2label"
                                          << "must be an object";
    QTest::newRow("id2label key not a number") << R"("id2label": {"zero": "a"})"
                                               << "id2label"
                                               << "'zero'";
    QTest::newRow("id2label key out of range") << R"("id2label": {"0": "a", "5": "b"})"
                                               << "id2label"
                                               << "'5'";
    QTest::newRow("id2label negative key") << R"("id2label": {"-1": "a"})"
                                           << "id2label"
                                           << "'-1'";
    QTest::newRow("id2label value not a string") << R"("id2label": {"0": 7})"
                                                 << "id2label"
                                                 << "non-string";
    QTest::newRow("id2label names a label twice") << R"("id2label": {"0": "same", "1": "same"})"
                                                  << "id2label"
                                                  << "'same'";
    QTest::newRow("label2id is an array") << R"("id2label": {"0": "a"}, "label2id": [0])"
                                          << "label2id"
                                          << "must be an object";
    QTest::newRow("label2id size differs") << R"("id2label": {"0": "a", "1": "b"}, "label2id": {"a": 0})"
                                           << "label2id"
                                           << "has 1 labels";
    QTest::newRow("label2id contradicts id2label")
        << R"("id2label": {"0": "a", "1": "b"}, "label2id": {"a": 1, "b": 0})"
        << "label2id"
        << "contradicts";
    QTest::newRow("label2id unknown name")
        << R"("id2label": {"0": "a", "1": "b"}, "label2id": {"a": 0, "c": 1})"
        << "label2id"
        << "'c'";
    QTest::newRow("label2id id not an integer") << R"("id2label": {"0": "a"}, "label2id": {"a": "0"})"
                                                << "label2id"
                                                << "contradicts";
    QTest::newRow("num_labels disagrees with id2label")
        << R"("num_labels": 3, "id2label": {"0": "a", "1": "b"})"
        << "num_labels"
        << "is 3";
    QTest::newRow("num_labels 0") << R"("num_labels": 0)"
                                  << "num_labels"
                                  << "positive";
    QTest::newRow("num_labels in the billions") << R"("num_labels": 11844674461)"
                                                << "num_labels"
                                                << "more than the 65536 classes";
    QTest::newRow("num_labels not an integer") << R"("num_labels": "2")"
                                               << "num_labels"
                                               << "integer";
}

void ConfigTest::labelErrors() {
    QFETCH(QString, fields);
    QFETCH(QString, field);
    QFETCH(QString, detail);
    const std::string message = parseError(fields);
    QVERIFY2(!message.empty(), "accepted");
    QVERIFY2(contains(message, "field '" + field + "'"), message.c_str());
    QVERIFY2(contains(message, detail), message.c_str());
}

void ConfigTest::invalidFields_data() {
    QTest::addColumn<QString>("fields");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("detail");
    // Impossible values.
    QTest::newRow("num_experts 0") << R"("num_experts": 0)"
                                   << "num_experts"
                                   << "positive";
    QTest::newRow("num_experts negative") << R"("num_experts": -8)"
                                          << "num_experts"
                                          << "-8";
    // Read as int64 these wrapped to -1 and INT64_MIN, values the file does not hold.
    QTest::newRow("d_model 2^64 - 1") << R"("d_model": 18446744073709551615)"
                                      << "d_model"
                                      << "is too large: 18446744073709551615";
    QTest::newRow("pad_token_id 2^63") << R"("pad_token_id": 9223372036854775808)"
                                       << "pad_token_id"
                                       << "is too large: 9223372036854775808";
    QTest::newRow("d_model 0") << R"("d_model": 0)"
                               << "d_model"
                               << "positive";
    QTest::newRow("hidden_size 0") << R"("hidden_size": 0)"
                                   << "hidden_size"
                                   << "positive";
    QTest::newRow("d_ff negative") << R"("d_ff": -1)"
                                   << "d_ff"
                                   << "-1";
    QTest::newRow("d_kv 0") << R"("d_kv": 0)"
                            << "d_kv"
                            << "positive";
    QTest::newRow("num_layers negative") << R"("num_layers": -12)"
                                         << "num_layers"
                                         << "-12";
    QTest::newRow("num_heads 0") << R"("num_heads": 0)"
                                 << "num_heads"
                                 << "positive";
    QTest::newRow("vocab_size 0") << R"("vocab_size": 0)"
                                  << "vocab_size"
                                  << "positive";
    QTest::newRow("expert_capacity 0") << R"("expert_capacity": 0)"
                                       << "expert_capacity"
                                       << "positive";
    QTest::newRow("num_sparse_encoder_layers negative") << R"("num_sparse_encoder_layers": -1)"
                                                        << "num_sparse_encoder_layers"
                                                        << "negative";
    QTest::newRow("encoder_sparse_step negative") << R"("encoder_sparse_step": -2)"
                                                  << "encoder_sparse_step"
                                                  << "negative";
    QTest::newRow("more sparse layers than layers") << R"("num_layers": 4, "num_sparse_encoder_layers": 5)"
                                                    << "num_sparse_encoder_layers"
                                                    << "4 layers";
    QTest::newRow("step beyond the encoder")
        << R"("num_layers": 4, "num_sparse_encoder_layers": 2, "encoder_sparse_step": 9)"
        << "encoder_sparse_step"
        << "num_layers";
    QTest::newRow("odd bucket count") << R"("relative_attention_num_buckets": 31)"
                                      << "relative_attention_num_buckets"
                                      << "even";
    QTest::newRow("max distance too small") << R"("relative_attention_max_distance": 8)"
                                            << "relative_attention_max_distance"
                                            << "quarter";
    QTest::newRow("pad id outside the vocabulary") << R"("vocab_size": 100, "pad_token_id": 100)"
                                                   << "pad_token_id"
                                                   << "vocab_size";
    QTest::newRow("eos id outside the vocabulary") << R"("vocab_size": 100, "eos_token_id": 200)"
                                                   << "eos_token_id"
                                                   << "vocab_size";
    QTest::newRow("pad id negative") << R"("pad_token_id": -1)"
                                     << "pad_token_id"
                                     << "negative";
    QTest::newRow("layer_norm_epsilon 0") << R"("layer_norm_epsilon": 0)"
                                          << "layer_norm_epsilon"
                                          << "positive";
    QTest::newRow("dropout_rate 1") << R"("dropout_rate": 1.0)"
                                    << "dropout_rate"
                                    << "[0, 1)";
    QTest::newRow("router_jitter_noise negative") << R"("router_jitter_noise": -0.5)"
                                                  << "router_jitter_noise"
                                                  << "[0, 1)";
    // Wrong JSON types.
    QTest::newRow("d_model as a string") << R"("d_model": "768")"
                                         << "d_model"
                                         << "integer";
    QTest::newRow("d_ff as a float") << R"("d_ff": 3072.5)"
                                     << "d_ff"
                                     << "integer";
    QTest::newRow("num_experts as a bool") << R"("num_experts": true)"
                                           << "num_experts"
                                           << "integer";
    QTest::newRow("router_bias as a number") << R"("router_bias": 1)"
                                             << "router_bias"
                                             << "true or false";
    QTest::newRow("layer_norm_epsilon as a string") << R"("layer_norm_epsilon": "1e-6")"
                                                    << "layer_norm_epsilon"
                                                    << "number";
    QTest::newRow("router_dtype as a number") << R"("router_dtype": 32)"
                                              << "router_dtype"
                                              << "string";
    QTest::newRow("dense_act_fn as an array") << R"("dense_act_fn": ["relu"])"
                                              << "dense_act_fn"
                                              << "string";
    QTest::newRow("num_hidden_layers as a string") << R"("num_hidden_layers": "4")"
                                                   << "num_hidden_layers"
                                                   << "integer";
    // Nested a million levels deep: the message describes the value instead of printing it.
    QTest::newRow("d_model nested a million deep")
        << QString::fromStdString("\"d_model\": " + std::string(1'000'000, '[') + std::string(1'000'000, ']'))
        << "d_model"
        << "an array";
    // Values Transformers refuses, or models this encoder would compute differently.
    QTest::newRow("router_dtype int8") << R"("router_dtype": "int8")"
                                       << "router_dtype"
                                       << "'int8'";
    QTest::newRow("dense_act_fn swish") << R"("dense_act_fn": "swish")"
                                        << "dense_act_fn"
                                        << "'swish'";
    QTest::newRow("model_type t5") << R"("model_type": "t5")"
                                   << "model_type"
                                   << "'t5'";
    QTest::newRow("is_gated_act true") << R"("is_gated_act": true)"
                                       << "is_gated_act"
                                       << "gated";
    QTest::newRow("feed_forward_proj gated-gelu") << R"("feed_forward_proj": "gated-gelu")"
                                                  << "feed_forward_proj"
                                                  << "'gated-gelu'";
    QTest::newRow("num_selected_experts 2") << R"("num_selected_experts": 2)"
                                            << "num_selected_experts"
                                            << "one expert";
    QTest::newRow("router_type experts_choice") << R"("router_type": "experts_choice")"
                                                << "router_type"
                                                << "'experts_choice'";
}

// Every error names the file and the field, and says what is wrong with it.
void ConfigTest::invalidFields() {
    QFETCH(QString, fields);
    QFETCH(QString, field);
    QFETCH(QString, detail);
    const std::string message = parseError(fields);
    QVERIFY2(!message.empty(), "accepted");
    QVERIFY2(contains(message, QString::fromStdString(kSource)), message.c_str());
    QVERIFY2(contains(message, "field '" + field + "'"), message.c_str());
    QVERIFY2(contains(message, detail), message.c_str());
}

void ConfigTest::notAJsonObject_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("detail");
    QTest::newRow("empty") << ""
                           << "not valid JSON";
    QTest::newRow("truncated") << R"({"d_model": 768,)"
                               << "not valid JSON";
    QTest::newRow("array") << "[1, 2]"
                           << "not a JSON object";
    QTest::newRow("number") << "768"
                            << "not a JSON object";
}

void ConfigTest::notAJsonObject() {
    QFETCH(QString, text);
    QFETCH(QString, detail);
    try {
        parseSwitchConfig(text.toStdString(), kSource);
        QFAIL("accepted");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), QString::fromStdString(kSource)), e.what());
        QVERIFY2(contains(e.what(), detail), e.what());
    }
}

void ConfigTest::loadNamesMissingFile() {
    const auto path = test::fixture("hf/no-such-model/config.json");
    try {
        loadSwitchConfig(path);
        QFAIL("a missing config.json loaded");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), QString::fromStdString(path.string())), e.what());
    }
}

void ConfigTest::roundTrip_data() {
    QTest::addColumn<QString>("json");
    QTest::newRow("switch-base-8") << QString(kSwitchBase8);
    QTest::newRow("class defaults") << "{}";
    QTest::newRow("every field away from its default") << R"({
        "vocab_size": 1152, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 5, "num_heads": 3,
        "num_experts": 16, "expert_capacity": 3, "num_sparse_encoder_layers": 2, "encoder_sparse_step": 3,
        "router_bias": true, "router_jitter_noise": 0.0, "router_dtype": "bfloat16",
        "router_ignore_padding_tokens": true, "relative_attention_num_buckets": 64,
        "relative_attention_max_distance": 256, "dropout_rate": 0.25, "layer_norm_epsilon": 1.5e-5,
        "dense_act_fn": "gelu_new", "pad_token_id": 3, "eos_token_id": 4, "torch_dtype": "float16",
        "id2label": {"0": "entailment", "1": "neutral", "2": "contradiction"}})";
    QTest::newRow("step 1 with silu")
        << R"({"num_layers": 3, "num_sparse_encoder_layers": 3, "dense_act_fn": "silu"})";
    QTest::newRow("no sparse layers") << R"({"num_sparse_encoder_layers": 0})";
    QTest::newRow("labels from num_labels") << R"({"num_labels": 4})";
    QTest::newRow("awkward floats") << R"({"dropout_rate": 0.1000000000000001, "layer_norm_epsilon": 1e-300,
        "router_jitter_noise": 0.3333333333333333})";
    QTest::newRow("label names needing JSON escapes")
        << R"({"id2label": {"0": "a \"quoted\"\tlabel", "1": "ü/\\"}})";
}

// parse(toJson(c)) == c for every field; and toJson is a fixed point (parse -> dump -> parse).
void ConfigTest::roundTrip() {
    QFETCH(QString, json);
    const SwitchConfig original = parseSwitchConfig(json.toStdString(), kSource);
    const std::string written = switchConfigToJson(original);
    const SwitchConfig reread = parseSwitchConfig(written, "written config.json");
    compareEveryField(reread, original);
    QCOMPARE(switchConfigToJson(reread), written);
    QCOMPARE(reread.sparseBlocks(), original.sparseBlocks());
}

QTEST_GUILESS_MAIN(ConfigTest)
#include "tst_config.moc"
