// SPDX-License-Identifier: MIT
// The SiDA predictor's pieces, tested through the engine's internal API: sparsemax against known
// values, a textbook reference and finite differences; the truncated-distillation loss against a
// case worked out by hand; and the predictor network's padding mask (real tokens' predictions do
// not depend on how, or how much, a batch is padded).
#include "test_printers.h"

#include "predictor/distillation.h"
#include "predictor/predictor_net.h"
#include "predictor/sparsemax.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>

using namespace sida;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

at::Tensor doubles(const std::vector<double>& values) { return at::tensor(values, at::kDouble); }

std::vector<double> valuesOf(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kDouble).contiguous().reshape({-1});
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// Sparsemax from its definition (Martins & Astudillo 2016, Algorithm 1), written independently
// of the engine: sort descending, the support size k(z) = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)},
// the threshold tau = (sum_{j<=k(z)} z_(j) - 1) / k(z), and p_i = max(z_i - tau, 0). Masked (-inf)
// entries never qualify for the support.
std::vector<double> referenceSparsemax(const std::vector<double>& z) {
    std::vector<double> sorted = z;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    double sum = 0, supportSum = 0;
    size_t support = 0;
    for (size_t k = 1; k <= sorted.size(); ++k) {
        if (std::isinf(sorted[k - 1])) break;
        sum += sorted[k - 1];
        if (1 + static_cast<double>(k) * sorted[k - 1] > sum) {
            support = k;
            supportSum = sum;
        }
    }
    const double tau = (supportSum - 1) / static_cast<double>(support);
    std::vector<double> p;
    for (double v : z) p.push_back(std::max(v - tau, 0.0));
    return p;
}

QString compareValues(const std::vector<double>& actual, const std::vector<double>& expected,
                      double tolerance) {
    if (actual.size() != expected.size()) return QStringLiteral("sizes differ");
    for (size_t i = 0; i < actual.size(); ++i)
        if (!(std::abs(actual[i] - expected[i]) <= tolerance))
            return QStringLiteral("element %1: %2, expected %3")
                .arg(i)
                .arg(actual[i], 0, 'g', 12)
                .arg(expected[i], 0, 'g', 12);
    return {};
}

#define QVERIFY_CLOSE(actual, expected, tolerance)                                                           \
    do {                                                                                                     \
        const QString problem = compareValues(actual, expected, tolerance);                                  \
        QVERIFY2(problem.isEmpty(), qPrintable(problem));                                                    \
    } while (false)

sida::detail::PredictorMetadata tinyPredictor(bool bidirectional) {
    sida::detail::PredictorMetadata m;
    m.architecture.hidden = 6;
    m.architecture.lstmLayers = 2;
    m.architecture.bidirectional = bidirectional;
    m.dModel = 8;
    m.vocabSize = 40;
    m.numExperts = 4;
    m.moeBlocks = {1, 3};
    m.modelFingerprint = std::string(64, '0');
    return m;
}

// Predicted logits of the real tokens of `sequences`, padded with `padId` in a batch.
at::Tensor realTokenLogits(sida::detail::PredictorNet& net, const at::Tensor& embedding, int64_t padId,
                           const std::vector<std::vector<int64_t>>& sequences) {
    std::vector<const std::vector<int64_t>*> pointers;
    for (const auto& s : sequences) pointers.push_back(&s);
    return sida::detail::predictRealTokens(net,
                                           sida::detail::embedBatch(embedding, padId, pointers, at::kCPU));
}

} // namespace

class PredictorInternalsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void sparsemaxKnownValues_data();
    void sparsemaxKnownValues();
    void sparsemaxIsSparseAndSumsToOne();
    void sparsemaxMatchesReference_data();
    void sparsemaxMatchesReference();
    void sparsemaxGradientMatchesFiniteDifferences();
    void distillationLossHandComputed();
    void distillationIgnoresExpertsOutsideTopT();
    void lstmInferenceMatchesLibTorch_data();
    void lstmInferenceMatchesLibTorch();
    void paddingChangesNothingForRealTokens_data();
    void paddingChangesNothingForRealTokens();
};

void PredictorInternalsTest::initTestCase() {
    at::set_num_threads(1);
    at::manual_seed(7);
}

void PredictorInternalsTest::sparsemaxKnownValues_data() {
    QTest::addColumn<std::vector<double>>("z");
    QTest::addColumn<std::vector<double>>("expected");
    // tau = (1 + 0.5 - 1) / 2 = 0.25; -1 is below it.
    QTest::newRow("two in the support")
        << std::vector<double>{1, 0.5, -1} << std::vector<double>{0.75, 0.25, 0};
    // Ties share the mass: tau = (1 + 1 - 1) / 2 = 0.5.
    QTest::newRow("tie") << std::vector<double>{1, 1, 0} << std::vector<double>{0.5, 0.5, 0};
    QTest::newRow("tie, other order") << std::vector<double>{0, 1, 1} << std::vector<double>{0, 0.5, 0.5};
    QTest::newRow("constant: uniform")
        << std::vector<double>{2.5, 2.5, 2.5, 2.5} << std::vector<double>{0.25, 0.25, 0.25, 0.25};
    // A gap of at least 1 leaves the largest alone.
    QTest::newRow("one wins") << std::vector<double>{0, 3, 1.9} << std::vector<double>{0, 1, 0};
    // Close values stay dense: tau = (0.1 + 0 - 0.1 - 1) / 3 = -1/3.
    QTest::newRow("dense") << std::vector<double>{0.1, 0, -0.1}
                           << std::vector<double>{0.1 + 1.0 / 3, 1.0 / 3, -0.1 + 1.0 / 3};
    QTest::newRow("masked entries get 0")
        << std::vector<double>{-kInf, 0, -kInf, 0} << std::vector<double>{0, 0.5, 0, 0.5};
    QTest::newRow("one unmasked entry")
        << std::vector<double>{-kInf, -7, -kInf} << std::vector<double>{0, 1, 0};
    QTest::newRow("single entry") << std::vector<double>{-3} << std::vector<double>{1};
}

void PredictorInternalsTest::sparsemaxKnownValues() {
    QFETCH(std::vector<double>, z);
    QFETCH(std::vector<double>, expected);
    QVERIFY_CLOSE(valuesOf(sida::detail::sparsemax(doubles(z))), expected, 1e-12);
    QVERIFY_CLOSE(valuesOf(sida::detail::sparsemax(doubles(z).to(at::kFloat))), expected, 1e-6);
}

void PredictorInternalsTest::sparsemaxIsSparseAndSumsToOne() {
    // Scores spread like the predictor's unscaled dot products (|score| up to tens).
    const at::Tensor z = at::randn({64, 20}, at::kDouble) * 5;
    const at::Tensor p = sida::detail::sparsemax(z);
    QVERIFY(p.ge(0).all().item<bool>());
    QVERIFY_CLOSE(valuesOf(p.sum(-1)), std::vector<double>(64, 1.0), 1e-12);
    // Sparse: with this spread most entries are exactly zero, unlike softmax's.
    const double zeros = p.eq(0).to(at::kDouble).mean().item<double>();
    QVERIFY2(zeros > 0.5, qPrintable(QString::number(zeros)));
    // Every row keeps its largest entry.
    QVERIFY(p.gather(-1, z.argmax(-1, true)).gt(0).all().item<bool>());

    // In float32, with scores as large as a wide LSTM's unscaled dot products and many near
    // ties, rounding must not break the support: still a distribution, still the reference's.
    const at::Tensor wide = (at::randn({64, 50}) * 100).round() + at::randn({64, 50}) * 1e-3;
    const at::Tensor q = sida::detail::sparsemax(wide);
    QVERIFY_CLOSE(valuesOf(q.sum(-1)), std::vector<double>(64, 1.0), 1e-4);
    for (int64_t r = 0; r < wide.size(0); ++r)
        QVERIFY_CLOSE(valuesOf(q[r]), referenceSparsemax(valuesOf(wide[r])), 1e-3);
}

void PredictorInternalsTest::sparsemaxMatchesReference_data() {
    QTest::addColumn<int>("dim");
    QTest::addColumn<double>("scale");
    QTest::addColumn<double>("maskedShare");
    QTest::newRow("last dim") << -1 << 1.0 << 0.0;
    QTest::newRow("last dim, wide") << -1 << 10.0 << 0.0;
    QTest::newRow("last dim, masked") << -1 << 3.0 << 0.4;
    QTest::newRow("middle dim, masked") << 1 << 3.0 << 0.3;
    QTest::newRow("first dim, masked") << 0 << 0.5 << 0.5;
}

void PredictorInternalsTest::sparsemaxMatchesReference() {
    QFETCH(int, dim);
    QFETCH(double, scale);
    QFETCH(double, maskedShare);
    const std::vector<int64_t> shape{5, 7, 9};
    at::Tensor z = at::randn(shape, at::kDouble) * scale;
    // Mask random entries with -inf, but keep one finite entry in every slice along `dim`.
    at::Tensor masked = at::rand(shape, at::kDouble).lt(maskedShare);
    masked.select(dim, 0).fill_(false);
    z = z.masked_fill(masked, -kInf);
    // Shuffle along `dim` so that the kept entry is not always first.
    z = z.index_select(dim, at::randperm(z.size(dim), at::kLong));

    const at::Tensor p = sida::detail::sparsemax(z, dim);
    QCOMPARE(p.sizes().vec(), shape);
    // Compare slice by slice with the reference: move `dim` last and flatten the rest.
    const at::Tensor zRows = z.movedim(dim, -1).reshape({-1, z.size(dim)});
    const at::Tensor pRows = p.movedim(dim, -1).reshape({-1, z.size(dim)});
    for (int64_t r = 0; r < zRows.size(0); ++r) {
        const std::vector<double> expected = referenceSparsemax(valuesOf(zRows[r]));
        QVERIFY_CLOSE(valuesOf(pRows[r]), expected, 1e-12);
    }
    QVERIFY(p.isfinite().all().item<bool>());
    QVERIFY(p.masked_select(z.isinf()).eq(0).all().item<bool>());
}

void PredictorInternalsTest::sparsemaxGradientMatchesFiniteDifferences() {
    // f(z) = sum_i w_i sparsemax(z)_i, differentiated by autograd and by central differences.
    // Away from support changes sparsemax is linear in z, so the differences are exact up to
    // rounding; the draw is fixed, and a step that crossed a support boundary would fail loudly.
    const at::Tensor w = at::randn({3, 6}, at::kDouble);
    at::Tensor z = (at::randn({3, 6}, at::kDouble) * 2);
    z.index_put_({1, 2}, -kInf);
    z.index_put_({2, 0}, -kInf);
    z.index_put_({2, 5}, -kInf);
    z.requires_grad_(true);
    const at::Tensor f = (sida::detail::sparsemax(z, -1) * w).sum();
    f.backward();
    const at::Tensor grad = z.grad();
    QVERIFY(grad.isfinite().all().item<bool>());

    const double eps = 1e-6;
    const at::Tensor base = z.detach();
    for (int64_t r = 0; r < base.size(0); ++r)
        for (int64_t c = 0; c < base.size(1); ++c) {
            const double analytic = grad.index({r, c}).item<double>();
            if (std::isinf(base.index({r, c}).item<double>())) {
                QCOMPARE(analytic, 0.0); // a masked entry has no influence
                continue;
            }
            auto fAt = [&](double delta) {
                at::Tensor moved = base.clone();
                moved.index_put_({r, c}, base.index({r, c}).item<double>() + delta);
                return (sida::detail::sparsemax(moved, -1) * w).sum().item<double>();
            };
            const double numeric = (fAt(eps) - fAt(-eps)) / (2 * eps);
            QVERIFY2(std::abs(analytic - numeric) < 1e-6,
                     qPrintable(QStringLiteral("d f / d z[%1][%2]: autograd %3, finite differences %4")
                                    .arg(r)
                                    .arg(c)
                                    .arg(analytic)
                                    .arg(numeric)));
        }
    // The Jacobian's known form, diag(s) - s s^T / |S| with s the support indicator, makes the
    // gradient w_i - mean of w over the support on the support, and 0 off it.
    const at::Tensor p = sida::detail::sparsemax(base, -1);
    for (int64_t r = 0; r < base.size(0); ++r) {
        const at::Tensor support = p[r].gt(0);
        const double meanW = w[r].masked_select(support).mean().item<double>();
        const at::Tensor expected = at::where(support, w[r] - meanW, at::zeros_like(w[r]));
        QVERIFY_CLOSE(valuesOf(grad[r]), valuesOf(expected), 1e-12);
    }
}

void PredictorInternalsTest::distillationLossHandComputed() {
    // Two MoE layers, two tokens, E = 3 experts, T = 2, lambda = 0.5. The loss of a layer is
    // lambda * mean_tokens CE(student, teacher's argmax) + mean over tokens and the T kept
    // experts of |softmax(student at the teacher's top-T) - softmax(teacher's top-T)|; the
    // layers are averaged.
    const at::Tensor student = at::tensor({1.0, 2.0, 0.0, /**/ 0.5, -1.0, 1.5, /* layer 1: */ 0.0, 0.0, 1.0,
                                           /**/ 2.0, 1.0, -1.0},
                                          at::kFloat)
                                   .view({2, 2, 3});
    const std::vector<at::Tensor> values{at::tensor({3.0f, 1.0f, 2.0f, 0.0f}).view({2, 2}),
                                         at::tensor({1.0f, 0.5f, 4.0f, -1.0f}).view({2, 2})};
    const std::vector<at::Tensor> indices{at::tensor({1L, 0L, 2L, 1L}).view({2, 2}),
                                          at::tensor({2L, 0L, 0L, 1L}).view({2, 2})};
    // Layer 0, token 0: student at experts (1, 0) = (2, 1), softmax (0.731059, 0.268941); teacher
    //   softmax(3, 1) = (0.880797, 0.119203); |differences| 0.149738 twice. CE against expert 1:
    //   log(e^1 + e^2 + e^0) - 2 = 0.407606.
    // Layer 0, token 1: student at (2, 1) = (1.5, -1) -> (0.924142, 0.075858); teacher
    //   softmax(2, 0) = (0.880797, 0.119203); |differences| 0.043345 twice. CE against expert 2:
    //   log(e^0.5 + e^-1 + e^1.5) - 1.5 = 0.371539.
    //   Layer 0: 0.5 * (0.407606 + 0.371539) / 2 + (2 * 0.149738 + 2 * 0.043345) / 4 = 0.291328.
    // Layer 1, token 0: student at (2, 0) = (1, 0) -> (0.731059, 0.268941); teacher
    //   softmax(1, 0.5) = (0.622459, 0.377541); |differences| 0.108599 twice. CE against expert 2:
    //   log(1 + 1 + e) - 1 = 0.551445.
    // Layer 1, token 1: student at (0, 1) = (2, 1) -> (0.731059, 0.268941); teacher
    //   softmax(4, -1) = (0.993307, 0.006693); |differences| 0.262249 twice. CE against expert 0:
    //   log(e^2 + e + e^-1) - 2 = 0.349012.
    //   Layer 1: 0.5 * (0.551445 + 0.349012) / 2 + (2 * 0.108599 + 2 * 0.262249) / 4 = 0.410538.
    // Mean over the layers: (0.291328 + 0.410538) / 2 = 0.350933.
    const double loss = sida::detail::distillationLoss(student, values, indices, 0.5).item<double>();
    QVERIFY2(std::abs(loss - 0.350933005680316) < 1e-6, qPrintable(QString::number(loss, 'g', 10)));
    // lambda = 0 leaves the L1 term alone: (0.096542 + 0.185424) / 2.
    const double l1Only = sida::detail::distillationLoss(student, values, indices, 0.0).item<double>();
    QVERIFY2(std::abs(l1Only - (0.0965416206743758 + 0.18542390893693034) / 2) < 1e-6,
             qPrintable(QString::number(l1Only, 'g', 10)));
}

void PredictorInternalsTest::distillationIgnoresExpertsOutsideTopT() {
    // Truncation: with lambda = 0 only the teacher's top-T experts enter the loss, so a student
    // logit elsewhere changes nothing; with lambda > 0 it still enters the cross-entropy.
    const at::Tensor student = at::randn({1, 5, 6});
    const at::Tensor teacherLogits = at::randn({5, 6});
    const auto [values, indices] = teacherLogits.topk(3, -1);
    at::Tensor outside = student.clone();
    for (int64_t n = 0; n < 5; ++n) {
        const at::Tensor kept = at::zeros({6}, at::kBool).index_fill_(0, indices[n], true);
        const int64_t other = at::nonzero(kept.logical_not())[0].item<int64_t>();
        outside.index_put_({0, n, other}, outside.index({0, n, other}).item<float>() + 5.0f);
    }
    auto loss = [&](const at::Tensor& s, double lambda) {
        return sida::detail::distillationLoss(s, {values}, {indices}, lambda).item<double>();
    };
    QCOMPARE(loss(outside, 0.0), loss(student, 0.0));
    QVERIFY(loss(outside, 0.1) != loss(student, 0.1));
    // And a student equal to the teacher has no L1 term.
    QVERIFY(loss(teacherLogits.unsqueeze(0), 0.0) < 1e-7);
}

void PredictorInternalsTest::paddingChangesNothingForRealTokens_data() {
    QTest::addColumn<bool>("bidirectional");
    QTest::newRow("unidirectional") << false;
    QTest::newRow("bidirectional") << true;
}

void PredictorInternalsTest::paddingChangesNothingForRealTokens() {
    QFETCH(bool, bidirectional);
    torch::manual_seed(11);
    sida::detail::PredictorNet net(tinyPredictor(bidirectional));
    net.eval();
    torch::NoGradGuard noGrad;
    // Every id has its own random embedding, pad ids included, so a pad that leaked into the
    // LSTM or the attention would show.
    const at::Tensor embedding = at::randn({40, 8});
    const std::vector<std::vector<int64_t>> sequences{{5, 9, 13, 1}, {7, 1}, {22, 3, 3, 30, 17, 8, 1}};

    const at::Tensor padded = realTokenLogits(net, embedding, 0, sequences);
    QCOMPARE(padded.sizes().vec(), (std::vector<int64_t>{2, 13, 4}));
    // Each sequence alone needs no padding at all.
    std::vector<at::Tensor> alone;
    for (const auto& s : sequences) alone.push_back(realTokenLogits(net, embedding, 0, {s}));
    QVERIFY(at::allclose(padded, at::cat(alone, 1), 1e-5, 1e-6));
    // Another pad id (its embedding differs) and more padding: a long sequence in the batch.
    std::vector<std::vector<int64_t>> longer = sequences;
    longer.push_back(std::vector<int64_t>(25, 4));
    const at::Tensor morePadding = realTokenLogits(net, embedding, 37, longer);
    QVERIFY(at::allclose(padded, morePadding.slice(1, 0, 13), 1e-5, 1e-6));

    // The test can see padding: without the mask (every position real) the short sequences'
    // predictions change, and a real token does influence the others (through the attention and
    // the LSTM), so the invariance above is the mask's doing.
    std::vector<const std::vector<int64_t>*> pointers;
    for (const auto& s : sequences) pointers.push_back(&s);
    const sida::detail::EmbeddedBatch batch = sida::detail::embedBatch(embedding, 0, pointers, at::kCPU);
    const at::Tensor unmasked = net.forward(batch.embeddings, at::ones_like(batch.mask))
                                    .flatten(1, 2)
                                    .index_select(1, batch.realIndex);
    QVERIFY(!at::allclose(padded, unmasked, 1e-3, 1e-4));
    std::vector<int64_t> changed = sequences[0];
    changed[1] = 33;
    const at::Tensor neighbour = realTokenLogits(net, embedding, 0, {changed});
    // The last token sees the changed one through the LSTM in either direction setting.
    QVERIFY(!at::allclose(alone[0].select(1, 3), neighbour.select(1, 3), 1e-3, 1e-4));
}

void PredictorInternalsTest::lstmInferenceMatchesLibTorch_data() {
    QTest::addColumn<int>("layers");
    QTest::addColumn<int>("hidden");
    QTest::newRow("1 layer, width 7") << 1 << 7;
    QTest::newRow("2 layers, width 7") << 2 << 7;
    QTest::newRow("2 layers, width 128") << 2 << 128;
}

// The serving path's LSTM against LibTorch's packed one, on sequences of mixed lengths in an
// unsorted batch (the longest is not first): the same outputs, and 0 past each sequence's end.
void PredictorInternalsTest::lstmInferenceMatchesLibTorch() {
    QFETCH(int, layers);
    QFETCH(int, hidden);
    torch::manual_seed(5);
    torch::nn::LSTM lstm(torch::nn::LSTMOptions(5, hidden).num_layers(layers).batch_first(true));
    lstm->eval();
    torch::NoGradGuard noGrad;
    const at::Tensor x = at::randn({4, 9, 5});
    const at::Tensor lengths = at::tensor(std::vector<int64_t>{3, 9, 1, 6});
    const auto packed = torch::nn::utils::rnn::pack_padded_sequence(x, lengths, true, false);
    const at::Tensor expected = std::get<0>(torch::nn::utils::rnn::pad_packed_sequence(
        std::get<0>(lstm->forward_with_packed_input(packed)), true, 0.0, 9));
    const at::Tensor actual = sida::detail::unidirectionalLstmInference(lstm, x, lengths);
    QCOMPARE(actual.sizes().vec(), expected.sizes().vec());
    QVERIFY_CLOSE(valuesOf(actual), valuesOf(expected), 1e-5);
    QCOMPARE(actual[2].slice(0, 1).abs().max().item<float>(), 0.0f);
    // What PredictorNet::forward runs when it is not training is this path, and agrees with the
    // training path (LibTorch's LSTM) on the same weights.
    sida::detail::PredictorNet net(tinyPredictor(false));
    const at::Tensor embeddings = at::randn({3, 6, 8});
    const at::Tensor mask =
        at::tensor(std::vector<int64_t>{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}).view({3, 6});
    net.eval();
    const at::Tensor fast = net.forward(embeddings, mask);
    at::Tensor reference;
    {
        torch::AutoGradMode withGrad(true);
        reference = net.forward(embeddings, mask).detach();
    }
    QVERIFY_CLOSE(valuesOf(fast), valuesOf(reference), 1e-5);
}

QTEST_GUILESS_MAIN(PredictorInternalsTest)
#include "tst_predictor_internals.moc"
