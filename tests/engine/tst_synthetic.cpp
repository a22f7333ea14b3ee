// SPDX-License-Identifier: MIT
// Synthetic Switch models: the seeded generator gives fixed known numbers (so no library update
// can change a synthetic model under its predictor), the same options give the same bytes, the
// routers of a tiny synthetic model route by token at context 0 and less so at a high context,
// and the cache key follows every option that changes the weights.
#include "test_printers.h"
#include "test_support.h"

#include "sida/checksum.h"
#include "sida/errors.h"
#include "sida/synthetic.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace sida;

namespace {

// A test-only size: two MoE layers of 8 experts, small enough to write and run in a second.
SyntheticOptions tinyOptions(double context) {
    SyntheticOptions o;
    o.shape.name = "tiny-test";
    o.shape.vocabSize = 8192; // the bundled tokenizer's 8,000 pieces and its extra ids
    o.shape.dModel = 64;
    o.shape.dFf = 128;
    o.shape.heads = 2;
    o.shape.dKv = 32;
    o.shape.blocks = 4;
    o.shape.experts = 8;
    o.context = context;
    return o;
}

std::filesystem::path tokenizer() { return defaultModelDir() / "spiece.model"; }

std::string shardHash(const std::filesystem::path& dir) {
    return sha256File(dir / "model-00001-of-00001.safetensors");
}

} // namespace

class SyntheticTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void generatorKnownValues();
    void bfloat16Rounding();
    void shapesByName();
    void badNamesAndOptions();
    void cacheKeyFollowsOptions();
    void sameOptionsSameBytes();
    void folderOfOtherOptionsRefused();
    void routersFollowTokensAtContextZero();

private:
    QTemporaryDir dir_;
};

void SyntheticTest::initTestCase() {
    QVERIFY(dir_.isValid());
    QVERIFY2(std::filesystem::is_regular_file(tokenizer()), "the bundled demo model's tokenizer is missing");
}

// splitmix64's published outputs for seed 0, then the Box-Muller normals of one named stream:
// fixed numbers, so that the generator cannot drift with a compiler or library update.
void SyntheticTest::generatorKnownValues() {
    SyntheticRandom plain(0);
    QCOMPARE(plain.nextU64(), 0xe220a8397b1dcdafull);
    QCOMPARE(plain.nextU64(), 0x6e789e6aa1b965f4ull);
    QCOMPARE(plain.nextU64(), 0x06c45d188009454full);

    SyntheticRandom stream(7, "shared.weight");
    const double expected[] = {-0.77347392418939798, 0.55046942722258574, 0.48166609367190238,
                               0.98876187315255004};
    for (double e : expected) {
        const double v = stream.normal();
        QVERIFY2(std::abs(v - e) < 1e-12, qPrintable(QString::number(v, 'g', 17)));
    }
    // Named streams are independent of each other and of the plain seed.
    QVERIFY(SyntheticRandom(7, "a").nextU64() != SyntheticRandom(7, "b").nextU64());
    QVERIFY(SyntheticRandom(7, "a").nextU64() != SyntheticRandom(8, "a").nextU64());
    // Uniforms stay inside (0, 1) and normals have the right moments.
    SyntheticRandom r(3);
    double sum = 0, squares = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
        const double u = r.uniform();
        QVERIFY(u > 0 && u < 1);
        const double x = r.normal();
        sum += x;
        squares += x * x;
    }
    QVERIFY(std::abs(sum / n) < 0.01);
    QVERIFY(std::abs(squares / n - 1) < 0.02);
}

void SyntheticTest::bfloat16Rounding() {
    QCOMPARE(toBfloat16(1.0f), uint16_t{0x3f80});
    QCOMPARE(toBfloat16(-2.0f), uint16_t{0xc000});
    QCOMPARE(toBfloat16(1.00390625f), uint16_t{0x3f80});   // a tie rounds to the even neighbour
    QCOMPARE(toBfloat16(1.01171875f), uint16_t{0x3f82});   // a tie rounds to the even neighbour
    QCOMPARE(toBfloat16(1.0048828125f), uint16_t{0x3f81}); // above the tie rounds up
    const uint16_t nan = toBfloat16(std::numeric_limits<float>::quiet_NaN());
    QVERIFY((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0);
}

void SyntheticTest::shapesByName() {
    const SyntheticShape base = syntheticShape("switch-base-128");
    QCOMPARE(base.dModel, int64_t{768});
    QCOMPARE(base.dFf, int64_t{3072});
    QCOMPARE(base.heads, int64_t{12});
    QCOMPARE(base.blocks, int64_t{12});
    QCOMPARE(base.experts, int64_t{128});
    const SyntheticShape large = syntheticShape("switch-large-128");
    QCOMPARE(large.dModel, int64_t{1024});
    QCOMPARE(large.dFf, int64_t{4096});
    QCOMPARE(large.heads, int64_t{16});
    QCOMPARE(large.dKv, int64_t{64});
    QCOMPARE(large.blocks, int64_t{24});
    QCOMPARE(large.experts, int64_t{128});
    QCOMPARE(syntheticShape("switch-base-8").experts, int64_t{8});
}

void SyntheticTest::badNamesAndOptions() {
    for (const char* name : {"switch-base-", "switch-base-0", "switch-base-4097", "switch-base-12x",
                             "switch-base--8", "switch-huge-8", "", "switch-large-99999"})
        QVERIFY2(test::errorProblem([&] { syntheticShape(name); }, {"synthetic model '" + std::string(name)})
                     .isEmpty(),
                 name);
    QVERIFY(test::errorProblem([] { syntheticShape("switch-base-0"); }, {"1..4096"}).isEmpty());
    QVERIFY(test::errorProblem([] { syntheticShape("mixtral"); }, {"switch-base-N"}).isEmpty());
    for (double context : {-0.1, 4.5, std::numeric_limits<double>::quiet_NaN()}) {
        SyntheticOptions o = tinyOptions(context);
        QVERIFY(test::errorProblem([&] { validateSyntheticOptions(o); }, {"context", "0..4"}).isEmpty());
    }
    SyntheticOptions odd = tinyOptions(0);
    odd.shape.dModel = 63;
    QVERIFY(test::errorProblem([&] { validateSyntheticOptions(odd); }, {"d_model"}).isEmpty());
    SyntheticOptions escaping = tinyOptions(0);
    escaping.shape.name = "../x";
    QVERIFY(test::errorProblem([&] { syntheticCacheKey(escaping); }, {"name"}).isEmpty());
}

void SyntheticTest::cacheKeyFollowsOptions() {
    const SyntheticOptions base = tinyOptions(0.5);
    const std::string key = syntheticCacheKey(base);
    QCOMPARE(syntheticCacheKey(tinyOptions(0.5)), key);
    QVERIFY(key.find("gen" + std::to_string(kSyntheticGeneratorVersion)) != std::string::npos);
    QVERIFY(key.find("context0.500") != std::string::npos);
    QVERIFY(syntheticCacheKey(tinyOptions(0.25)) != key);
    SyntheticOptions other = base;
    other.seed = 8;
    QVERIFY(syntheticCacheKey(other) != key);
    other = base;
    other.shape.experts = 16;
    QVERIFY(syntheticCacheKey(other) != key);
    other = base;
    other.shape.dFf = 256;
    QVERIFY(syntheticCacheKey(other) != key);
    // The default of bench --synthetic switch-base-128 never names the old random-router folder.
    SyntheticOptions bench;
    bench.shape = syntheticShape("switch-base-128");
    QVERIFY(syntheticCacheKey(bench) != "switch-base-128-bfloat16");
}

void SyntheticTest::sameOptionsSameBytes() {
    const auto a = std::filesystem::path(dir_.filePath("same-a").toStdString());
    const auto b = std::filesystem::path(dir_.filePath("same-b").toStdString());
    writeSyntheticSwitch(tinyOptions(0.5), a, tokenizer());
    writeSyntheticSwitch(tinyOptions(0.5), b, tokenizer());
    QCOMPARE(shardHash(a), shardHash(b));
    // Pinned: the bytes of this tiny model, so that a change to the generator (which must bump
    // kSyntheticGeneratorVersion) cannot go unnoticed.
    QCOMPARE(QString::fromStdString(shardHash(a)),
             QString("1b3ba8d2e0a78eddfa87b323dd97e0044af1080c09acd52e4ef967972526eb9e"));
    const auto c = std::filesystem::path(dir_.filePath("context").toStdString());
    writeSyntheticSwitch(tinyOptions(1.0), c, tokenizer());
    QVERIFY(shardHash(c) != shardHash(a));
    // A complete folder is reused, not rewritten.
    const auto before = std::filesystem::last_write_time(a / "model-00001-of-00001.safetensors");
    writeSyntheticSwitch(tinyOptions(0.5), a, tokenizer());
    QCOMPARE(std::filesystem::last_write_time(a / "model-00001-of-00001.safetensors"), before);
}

void SyntheticTest::folderOfOtherOptionsRefused() {
    const auto dir = std::filesystem::path(dir_.filePath("refused").toStdString());
    writeSyntheticSwitch(tinyOptions(0.5), dir, tokenizer());
    QVERIFY(test::errorProblem([&] { writeSyntheticSwitch(tinyOptions(0.25), dir, tokenizer()); },
                               {dir.string(), "other options"})
                .isEmpty());
}

// At context 0 the residual stream is the embedding, so every token goes to its table's expert;
// a strong context spreads a token's occurrences over several experts.
void SyntheticTest::routersFollowTokensAtContextZero() {
    const auto texts = test::syntheticSentences(300, 5);
    auto measure = [&](double context) {
        const auto dir =
            std::filesystem::path(dir_.filePath(QString("purity-%1").arg(context)).toStdString());
        const SyntheticOptions o = tinyOptions(context);
        writeSyntheticSwitch(o, dir, tokenizer());
        LoadOptions load;
        load.threads = 1;
        load.device = "cpu";
        const auto model = Model::load(dir, load);
        return measureRoutingPurity(*model, texts, &o);
    };
    const RoutingPurity pure = measure(0);
    const RoutingPurity mixed = measure(4);
    qInfo("token purity %.4f at context 0, %.4f at context 4; table agreement %.4f, %.4f", pure.meanPurity(),
          mixed.meanPurity(), pure.meanTableAgreement(), mixed.meanTableAgreement());
    QCOMPARE(pure.blocks, (std::vector<int64_t>{1, 3}));
    QVERIFY(pure.tokens > 1000);
    for (size_t l = 0; l < pure.blocks.size(); ++l) {
        QVERIFY2(pure.purity[l] > 0.999, qPrintable(QString::number(pure.purity[l])));
        QVERIFY2(pure.tableAgreement[l] > 0.95, qPrintable(QString::number(pure.tableAgreement[l])));
    }
    QVERIFY2(mixed.meanPurity() < pure.meanPurity() - 0.1, qPrintable(QString::number(mixed.meanPurity())));
    QVERIFY2(mixed.meanTableAgreement() < 0.8, qPrintable(QString::number(mixed.meanTableAgreement())));
}

QTEST_GUILESS_MAIN(SyntheticTest)
#include "tst_synthetic.moc"
