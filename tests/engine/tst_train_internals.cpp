// SPDX-License-Identifier: MIT
// Training's token-routing aid, tested through the engine's internal API: the fixed token ->
// expert assignment (sida::detail::balancedTokenExperts) that the routers are trained towards must give
// every expert tokens, balance the token occurrences over the experts as well as whole tokens
// allow, and differ between MoE layers.
#include "test_printers.h"
#include "test_support.h"

#include "train/trainer.h"
#include "train/training_data.h"

#include "sida/dataset.h"
#include "sida/tokenizer.h"

#include <QtTest>

#include <algorithm>
#include <map>
#include <set>

using namespace sida;

namespace {

// A training set whose token `id` occurs `counts[id]` times (spread over a few examples).
sida::detail::TokenizedSet setWithCounts(const std::vector<int64_t>& counts) {
    sida::detail::TokenizedSet set;
    sida::detail::TokenizedExample example;
    for (size_t id = 0; id < counts.size(); ++id)
        for (int64_t n = 0; n < counts[id]; ++n) {
            example.ids.push_back(static_cast<int64_t>(id));
            if (example.ids.size() == 50) set.examples.push_back(std::exchange(example, {}));
        }
    if (!example.ids.empty()) set.examples.push_back(example);
    return set;
}

std::vector<int64_t> countsOf(const sida::detail::TokenizedSet& set, int64_t vocabSize) {
    std::vector<int64_t> counts(static_cast<size_t>(vocabSize), 0);
    for (const auto& e : set.examples)
        for (int64_t id : e.ids) ++counts[static_cast<size_t>(id)];
    return counts;
}

// Zipf-like: the token of rank r occurs about 3000 / r times; the last ids never occur.
std::vector<int64_t> zipfCounts(int64_t vocabSize, int64_t seen) {
    std::vector<int64_t> counts(static_cast<size_t>(vocabSize), 0);
    for (int64_t r = 1; r <= seen; ++r)
        counts[static_cast<size_t>((r * 37) % seen)] = std::max<int64_t>(1, 3000 / r);
    return counts;
}

std::vector<int64_t> expertsOf(const at::Tensor& assignment) {
    const at::Tensor c = assignment.contiguous();
    return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// Checks one layer's assignment against what the aid promises; returns what is wrong, or "".
// With fair = total occurrences / E:
// - every id has an expert in [0, E), every expert gets tokens that occur;
// - a token heavier than a fair share has its expert to itself (no other occurring token);
// - the other experts are balanced as whole tokens allow: their loads differ by at most their
//   heaviest token (the list-scheduling bound), and none exceeds twice the fair share;
// - the ids that never occur are spread evenly (counts per expert differ by at most one).
QString checkBalanced(const std::vector<int64_t>& experts, const std::vector<int64_t>& counts,
                      int64_t numExperts) {
    if (experts.size() != counts.size()) return QStringLiteral("one expert per id expected");
    std::vector<int64_t> load(numExperts, 0), occurring(numExperts, 0), unseen(numExperts, 0),
        heaviest(numExperts, 0);
    int64_t total = 0;
    for (size_t id = 0; id < experts.size(); ++id) {
        const int64_t e = experts[id];
        if (e < 0 || e >= numExperts) return QStringLiteral("id %1 has expert %2").arg(id).arg(e);
        load[e] += counts[id];
        total += counts[id];
        (counts[id] > 0 ? occurring : unseen)[e] += 1;
        heaviest[e] = std::max(heaviest[e], counts[id]);
    }
    const double fair = static_cast<double>(total) / static_cast<double>(numExperts);
    int64_t lightMax = 0, lightMin = INT64_MAX, lightHeaviestToken = 0;
    for (int64_t e = 0; e < numExperts; ++e) {
        if (occurring[e] == 0) return QStringLiteral("expert %1 gets no token that occurs").arg(e);
        if (static_cast<double>(heaviest[e]) > fair) {
            if (occurring[e] != 1)
                return QStringLiteral(
                           "expert %1 has a token heavier than a fair share (%2 > %3) and %4 others")
                    .arg(e)
                    .arg(heaviest[e])
                    .arg(fair)
                    .arg(occurring[e] - 1);
            continue;
        }
        if (static_cast<double>(load[e]) > 2 * fair)
            return QStringLiteral("expert %1's load %2 is over twice the fair share %3")
                .arg(e)
                .arg(load[e])
                .arg(fair);
        lightMax = std::max(lightMax, load[e]);
        lightMin = std::min(lightMin, load[e]);
        lightHeaviestToken = std::max(lightHeaviestToken, heaviest[e]);
    }
    if (lightMin != INT64_MAX && lightMax - lightMin > lightHeaviestToken)
        return QStringLiteral("loads from %1 to %2 differ by more than the heaviest token (%3)")
            .arg(lightMin)
            .arg(lightMax)
            .arg(lightHeaviestToken);
    const auto [fewest, most] = std::minmax_element(unseen.begin(), unseen.end());
    if (*most - *fewest > 1)
        return QStringLiteral("ids that never occur are spread unevenly (%1 to %2 per expert)")
            .arg(*fewest)
            .arg(*most);
    return {};
}

// True when the two assignments group the occurring tokens the same way (equal up to renaming
// the experts).
bool sameGrouping(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                  const std::vector<int64_t>& counts) {
    std::map<int64_t, int64_t> renamed;
    std::set<int64_t> targets;
    for (size_t id = 0; id < a.size(); ++id) {
        if (counts[id] == 0) continue;
        const auto [it, inserted] = renamed.emplace(a[id], b[id]);
        if (!inserted && it->second != b[id]) return false;
        if (inserted && !targets.insert(b[id]).second) return false;
    }
    return true;
}

sida::detail::TokenizedSet sst2Tokens(int64_t rows) {
    DatasetOptions options;
    options.limit = rows;
    const Dataset data = readDataset(test::glue("SST-2/train.tsv"), options);
    const Tokenizer tokenizer(test::fixture("tokenizer/spiece.model"));
    return sida::detail::tokenizeExamples(data, tokenizer, 128, {"0", "1"});
}

} // namespace

class TrainInternalsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void balancedOnZipfCounts_data();
    void balancedOnZipfCounts();
    void balancedOnSst2Tokens_data();
    void balancedOnSst2Tokens();
    void layersDiffer();
    void seedDecides();
};

void TrainInternalsTest::balancedOnZipfCounts_data() {
    QTest::addColumn<int>("experts");
    QTest::addColumn<int>("heavyTokens"); // tokens heavier than a fair share, so that both cases are seen
    QTest::newRow("4 experts") << 4 << 0;
    QTest::newRow("8 experts: the most frequent token is heavier than a fair share") << 8 << 1;
    QTest::newRow("32 experts: four heavy tokens") << 32 << 4;
    QTest::newRow("1 expert") << 1 << 0;
}

void TrainInternalsTest::balancedOnZipfCounts() {
    QFETCH(int, experts);
    QFETCH(int, heavyTokens);
    const int64_t vocab = 700;
    const std::vector<int64_t> counts = zipfCounts(vocab, 500);
    const sida::detail::TokenizedSet set = setWithCounts(counts);
    QCOMPARE(countsOf(set, vocab), counts);
    int64_t total = 0;
    for (int64_t c : counts) total += c;
    QCOMPARE(std::count_if(counts.begin(), counts.end(), [&](int64_t c) { return c * experts > total; }),
             std::ptrdiff_t(heavyTokens));
    const auto assignments = sida::detail::balancedTokenExperts(set, vocab, experts, 3, 42);
    QCOMPARE(assignments.size(), size_t(3));
    for (const at::Tensor& layer : assignments) {
        QCOMPARE(layer.sizes().vec(), (std::vector<int64_t>{vocab}));
        QCOMPARE(layer.scalar_type(), at::kLong);
        const QString problem = checkBalanced(expertsOf(layer), counts, experts);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }
}

void TrainInternalsTest::balancedOnSst2Tokens_data() {
    QTest::addColumn<int>("experts");
    QTest::newRow("4 experts") << 4;
    // </s> ends every sentence: with 32 experts it outweighs a fair share.
    QTest::newRow("32 experts") << 32;
}

void TrainInternalsTest::balancedOnSst2Tokens() {
    QFETCH(int, experts);
    const sida::detail::TokenizedSet set = sst2Tokens(3000);
    const int64_t vocab = 1152; // the fixture models' embedding
    const std::vector<int64_t> counts = countsOf(set, vocab);
    const auto assignments = sida::detail::balancedTokenExperts(set, vocab, experts, 2, 7);
    for (const at::Tensor& layer : assignments) {
        const QString problem = checkBalanced(expertsOf(layer), counts, experts);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }
}

void TrainInternalsTest::layersDiffer() {
    // Layers must not share one grouping of the tokens (a mere renaming of the experts would
    // make every layer's routes the same function of the token).
    const sida::detail::TokenizedSet set = sst2Tokens(1000);
    const int64_t vocab = 1152;
    const std::vector<int64_t> counts = countsOf(set, vocab);
    const auto assignments = sida::detail::balancedTokenExperts(set, vocab, 8, 4, 42);
    for (size_t a = 0; a < assignments.size(); ++a)
        for (size_t b = a + 1; b < assignments.size(); ++b) {
            const auto ea = expertsOf(assignments[a]), eb = expertsOf(assignments[b]);
            QVERIFY2(ea != eb, qPrintable(QStringLiteral("layers %1 and %2 are equal").arg(a).arg(b)));
            QVERIFY2(!sameGrouping(ea, eb, counts),
                     qPrintable(QStringLiteral("layers %1 and %2 group the tokens alike").arg(a).arg(b)));
        }
}

void TrainInternalsTest::seedDecides() {
    const sida::detail::TokenizedSet set = sst2Tokens(500);
    const auto first = sida::detail::balancedTokenExperts(set, 1152, 4, 2, 42);
    const auto again = sida::detail::balancedTokenExperts(set, 1152, 4, 2, 42);
    const auto other = sida::detail::balancedTokenExperts(set, 1152, 4, 2, 43);
    for (size_t l = 0; l < first.size(); ++l) {
        QVERIFY(at::equal(first[l], again[l]));
        QVERIFY(!at::equal(first[l], other[l]));
    }
}

QTEST_GUILESS_MAIN(TrainInternalsTest)
#include "tst_train_internals.moc"
