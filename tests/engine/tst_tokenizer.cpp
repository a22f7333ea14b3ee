// SPDX-License-Identifier: MIT
// sida::Tokenizer against Hugging Face's T5Tokenizer (transformers 4.57.6): every case the
// fixture script recorded (SST-2 and MRPC sentences, pairs, truncation, unicode, whitespace and
// special-token look-alikes), plus the tokenizer's own errors, pieces and truncation flag.
#include "test_printers.h"
#include "test_support.h"

#include "sida/errors.h"
#include "sida/tokenizer.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <map>
#include <optional>

using namespace sida;

namespace {

struct TokenizerCase {
    int index = 0;
    std::string text;
    std::optional<std::string> pair;
    std::optional<int64_t> maxLength;
    std::vector<int64_t> ids;
};

std::vector<TokenizerCase> readCases() {
    QFile file(QString::fromStdString(test::fixture("tokenizer/cases.json").string()));
    if (!file.open(QIODevice::ReadOnly)) return {};
    const QJsonArray array = QJsonDocument::fromJson(file.readAll()).array();
    std::vector<TokenizerCase> cases;
    for (const QJsonValue& value : array) {
        const QJsonObject o = value.toObject();
        TokenizerCase c;
        c.index = static_cast<int>(cases.size());
        c.text = o["text"].toString().toStdString();
        if (o.contains("pair")) c.pair = o["pair"].toString().toStdString();
        if (o.contains("max_length")) c.maxLength = o["max_length"].toInteger();
        for (const QJsonValue& id : o["ids"].toArray()) c.ids.push_back(id.toInteger());
        cases.push_back(std::move(c));
    }
    return cases;
}

// How a case was made: single or pair, with or without max_length.
std::string shapeOf(const TokenizerCase& c) {
    return std::string(c.pair ? "pair" : "single") + (c.maxLength ? " truncated" : "");
}

// What its text exercises.
std::string contentOf(const TokenizerCase& c) {
    const std::string all = c.text + (c.pair ? "\n" + *c.pair : "");
    if (all.find('<') != std::string::npos) return "special-token look-alikes";
    if (all.find_first_not_of(" \t\n\r") == std::string::npos) return "empty or whitespace";
    for (unsigned char ch : all)
        if (ch >= 0x80) return "non-ASCII";
    return "ASCII";
}

std::string categoryOf(const TokenizerCase& c) { return shapeOf(c) + ", " + contentOf(c); }

std::string idsText(const std::vector<int64_t>& ids) {
    std::string text;
    for (size_t i = 0; i < ids.size(); ++i) text += (i ? " " : "") + std::to_string(ids[i]);
    return text;
}

const std::filesystem::path& spiece() {
    static const auto path = test::fixture("tokenizer/spiece.model");
    return path;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string loadError(const std::filesystem::path& path) {
    try {
        Tokenizer tokenizer(path);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

} // namespace

class TokenizerTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void matchesTransformers_data();
    void matchesTransformers();
    void everyCaseHasACategory();
    void missingEmptyOrForeignModelFile();
    void invalidUtf8NamesTheByteOffset();
    void findInvalidUtf8_data();
    void findInvalidUtf8();
    void isBlankText_data();
    void isBlankText();
    void pieces();
    void extraIdsInText();
    void truncatedFlag();
    void pairTruncation();
    void maximumLengthTooSmall();
    void movedTokenizerStillEncodes();

private:
    std::vector<TokenizerCase> cases_;
    std::unique_ptr<Tokenizer> tokenizer_;
};

void TokenizerTest::initTestCase() {
    cases_ = readCases();
    QVERIFY2(cases_.size() >= 1000, "tests/fixtures/tokenizer/cases.json is missing or short");
    tokenizer_ = std::make_unique<Tokenizer>(spiece());
}

void TokenizerTest::matchesTransformers_data() {
    QTest::addColumn<QString>("category");
    std::map<std::string, int> counts;
    for (const auto& c : readCases()) ++counts[categoryOf(c)];
    for (const auto& [category, count] : counts)
        QTest::newRow(category.c_str()) << QString::fromStdString(category);
}

// Identical ids for every case of the category; the mismatches are listed, not just counted.
void TokenizerTest::matchesTransformers() {
    QFETCH(QString, category);
    int total = 0, passed = 0;
    std::string failures;
    for (const TokenizerCase& c : cases_) {
        if (categoryOf(c) != category.toStdString()) continue;
        ++total;
        const int64_t maxLength = c.maxLength.value_or(512);
        std::vector<int64_t> ours;
        std::string error;
        try {
            ours = (c.pair ? tokenizer_->encodePair(c.text, *c.pair, maxLength)
                           : tokenizer_->encode(c.text, maxLength))
                       .ids;
        } catch (const Error& e) {
            error = e.what();
        }
        if (error.empty() && ours == c.ids) {
            ++passed;
            continue;
        }
        failures += "\n  case " + std::to_string(c.index) + " text \"" + c.text + "\"" +
                    (c.pair ? " pair \"" + *c.pair + "\"" : "") + "\n    transformers: " + idsText(c.ids) +
                    "\n    sida:         " + (error.empty() ? idsText(ours) : "error: " + error);
    }
    qInfo("%s: %d cases, %d pass, %d fail", qPrintable(category), total, passed, total - passed);
    QVERIFY(total > 0);
    QVERIFY2(passed == total, failures.c_str());
}

// Guards the categories above: a case the fixture script adds must land in one of them.
void TokenizerTest::everyCaseHasACategory() {
    std::map<std::string, int> counts;
    for (const auto& c : cases_) ++counts[shapeOf(c)];
    QCOMPARE(counts["single"] + counts["pair"] + counts["single truncated"] + counts["pair truncated"],
             static_cast<int>(cases_.size()));
    QVERIFY(counts["pair"] > 0);
    QVERIFY(counts["single truncated"] > 0);
    QVERIFY(counts["pair truncated"] > 0);
}

void TokenizerTest::missingEmptyOrForeignModelFile() {
    QTemporaryDir dir;
    const auto root = std::filesystem::path(dir.path().toStdString());

    const auto missing = root / "missing.model";
    std::string message = loadError(missing);
    QVERIFY2(contains(message, missing.string()), message.c_str());
    QVERIFY2(contains(message, "missing"), message.c_str());

    const auto empty = root / "empty.model";
    test::writeFile(empty, "");
    message = loadError(empty);
    QVERIFY2(contains(message, empty.string()), message.c_str());
    QVERIFY2(contains(message, "empty"), message.c_str());

    const auto foreign = root / "config.model";
    test::writeFile(foreign, test::readFile(test::fixture("hf/e4-step2-fp32/config.json")));
    message = loadError(foreign);
    QVERIFY2(contains(message, foreign.string()), message.c_str());
    QVERIFY2(contains(message, "not a SentencePiece model"), message.c_str());

    // A valid protobuf prefix cut short is not a model either.
    const auto truncated = root / "truncated.model";
    test::writeFile(truncated, test::readFile(spiece()).substr(0, 1000));
    message = loadError(truncated);
    QVERIFY2(contains(message, truncated.string()), message.c_str());

    // A folder is not a model.
    message = loadError(root);
    QVERIFY2(contains(message, root.string()), message.c_str());
}

void TokenizerTest::invalidUtf8NamesTheByteOffset() {
    try {
        tokenizer_->encode("good \xff bad", 512);
        QFAIL("invalid UTF-8 encoded");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), "UTF-8"), e.what());
        QVERIFY2(contains(e.what(), "offset 5"), e.what());
    }
    try {
        tokenizer_->encodePair("fine", "caf\xc3", 512);
        QFAIL("invalid UTF-8 in the second sentence encoded");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), "offset 3"), e.what());
    }
}

void TokenizerTest::findInvalidUtf8_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<qint64>("offset");
    QTest::newRow("empty") << QByteArray("") << qint64(-1);
    QTest::newRow("ASCII") << QByteArray("plain text") << qint64(-1);
    QTest::newRow("2, 3 and 4 bytes") << QByteArray("\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80") << qint64(-1);
    QTest::newRow("largest code point") << QByteArray("\xf4\x8f\xbf\xbf") << qint64(-1);
    QTest::newRow("lone continuation byte") << QByteArray("ab\x80") << qint64(2);
    QTest::newRow("0xff") << QByteArray("\xff") << qint64(0);
    QTest::newRow("overlong slash") << QByteArray("x\xc0\xaf") << qint64(1);
    QTest::newRow("overlong 3-byte") << QByteArray("\xe0\x80\xaf") << qint64(0);
    QTest::newRow("surrogate") << QByteArray("ok \xed\xa0\x80") << qint64(3);
    QTest::newRow("above U+10FFFF") << QByteArray("\xf4\x90\x80\x80") << qint64(0);
    QTest::newRow("sequence cut at the end") << QByteArray("caf\xc3") << qint64(3);
    QTest::newRow("sequence cut by ASCII") << QByteArray("\xe6\x97z") << qint64(0);
    QTest::newRow("NUL is valid") << QByteArray("a\0b", 3) << qint64(-1);
}

void TokenizerTest::findInvalidUtf8() {
    QFETCH(QByteArray, text);
    QFETCH(qint64, offset);
    QCOMPARE(sida::findInvalidUtf8(text.toStdString()), offset);
}

void TokenizerTest::isBlankText_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<bool>("blank");
    QTest::newRow("empty") << QByteArray("") << true;
    QTest::newRow("ASCII whitespace") << QByteArray(" \t\r\n\v\f") << true;
    QTest::newRow("ideographic space and no-break space") << QByteArray("\xe3\x80\x80\xc2\xa0") << true;
    QTest::newRow("en quad to hair space, line separator")
        << QByteArray("\xe2\x80\x80\xe2\x80\x8a\xe2\x80\xa8") << true;
    QTest::newRow("a letter among spaces") << QByteArray(" \xe3\x80\x80x ") << false;
    // Python's str.isspace() says no to the zero-width space; so does T5Tokenizer's stripping.
    QTest::newRow("zero-width space") << QByteArray("\xe2\x80\x8b") << false;
    QTest::newRow("invalid UTF-8") << QByteArray(" \xc2") << false;
}

// Every blank text encodes to </s> alone, as Hugging Face's does; a non-blank one to more.
void TokenizerTest::isBlankText() {
    QFETCH(QByteArray, text);
    QFETCH(bool, blank);
    QCOMPARE(sida::isBlankText(text.toStdString()), blank);
    if (blank) QCOMPARE(tokenizer_->encode(text.toStdString(), 512).ids, std::vector<int64_t>{1});
}

void TokenizerTest::pieces() {
    const Tokenizer& t = *tokenizer_;
    QCOMPARE(t.pieceCount(), 1000); // the fixture script trains vocab_size=1000
    QCOMPARE(t.vocabSize(), 1100);
    QCOMPARE(t.padId(), 0);
    QCOMPARE(t.eosId(), 1);
    QCOMPARE(t.unkId(), 2);
    QCOMPARE(t.piece(0), std::string("<pad>"));
    QCOMPARE(t.piece(1), std::string("</s>"));
    QCOMPARE(t.piece(2), std::string("<unk>"));
    // <extra_id_N> = vocab - 1 - N, above the SentencePiece pieces.
    QCOMPARE(t.piece(1000), std::string("<extra_id_99>"));
    QCOMPARE(t.piece(1099), std::string("<extra_id_0>"));
    QCOMPARE(t.piece(1090), std::string("<extra_id_9>"));
    QVERIFY(!contains(t.piece(1100), "extra_id"));
    QVERIFY(!contains(t.piece(-1), "extra_id"));
    QVERIFY(t.piece(1100) != t.piece(1099));
    // Ordinary pieces carry SentencePiece's word-start mark.
    const auto ids = t.encode("the movie", 512).ids;
    QCOMPARE(ids.back(), 1);
    QVERIFY(ids.size() >= 3);
    QVERIFY2(t.piece(ids.front()).rfind("\xe2\x96\x81", 0) == 0, t.piece(ids.front()).c_str());
}

void TokenizerTest::extraIdsInText() {
    const Tokenizer& t = *tokenizer_;
    QCOMPARE(t.encode("<extra_id_0>", 512).ids, (std::vector<int64_t>{1099, 1}));
    QCOMPARE(t.encode("<extra_id_99>", 512).ids, (std::vector<int64_t>{1000, 1}));
    QCOMPARE(t.encode("</s>", 512).ids, std::vector<int64_t>{1});
    QCOMPARE(t.encode("<pad>", 512).ids, (std::vector<int64_t>{0, 1}));
    // Every id a text turns into has a piece that names it back.
    for (int64_t id : t.encode("a <extra_id_7> b", 512).ids) QVERIFY(!t.piece(id).empty());
    QCOMPARE(t.piece(t.encode("x <extra_id_7> y", 512).ids[2]), std::string("<extra_id_7>"));
}

void TokenizerTest::truncatedFlag() {
    const Tokenizer& t = *tokenizer_;
    const std::string text = "a gripping , funny and ultimately moving film about friendship and loss";
    const Encoding full = t.encode(text, 512);
    const auto n = static_cast<int64_t>(full.ids.size());
    QVERIFY(n > 8);
    QVERIFY(!full.truncated);

    const Encoding exact = t.encode(text, n);
    QVERIFY(!exact.truncated);
    QCOMPARE(exact.ids, full.ids);

    const Encoding cut = t.encode(text, n - 1);
    QVERIFY(cut.truncated);
    QCOMPARE(static_cast<int64_t>(cut.ids.size()), n - 1);

    const Encoding eight = t.encode(text, 8);
    QVERIFY(eight.truncated);
    QCOMPARE(eight.ids.size(), size_t(8));
    QCOMPARE(eight.ids.back(), 1);
    QCOMPARE(std::vector<int64_t>(eight.ids.begin(), eight.ids.end() - 1),
             std::vector<int64_t>(full.ids.begin(), full.ids.begin() + 7));

    std::string longText;
    for (int i = 0; i < 2000; ++i) longText += "word ";
    const Encoding capped = t.encode(longText, 512);
    QVERIFY(capped.truncated);
    QCOMPARE(capped.ids.size(), size_t(512));
}

void TokenizerTest::pairTruncation() {
    const Tokenizer& t = *tokenizer_;
    const std::string a = "the first sentence is rather long and keeps going for a while longer",
                      b = "short one";
    const Encoding full = t.encodePair(a, b, 512);
    QVERIFY(!full.truncated);
    const Encoding cut = t.encodePair(a, b, 12);
    QVERIFY(cut.truncated);
    QCOMPARE(cut.ids.size(), size_t(12));
    QCOMPARE(std::count(cut.ids.begin(), cut.ids.end(), int64_t(1)), 2);
    QCOMPARE(cut.ids.back(), 1);
    // Longest first: the short second sentence survives whole.
    const auto second = t.encode(b, 512).ids;
    QCOMPARE(std::vector<int64_t>(cut.ids.end() - static_cast<std::ptrdiff_t>(second.size()), cut.ids.end()),
             second);
}

void TokenizerTest::maximumLengthTooSmall() {
    QVERIFY_THROWS_EXCEPTION(Error, tokenizer_->encode("text", 1));
    QVERIFY_THROWS_EXCEPTION(Error, tokenizer_->encodePair("a", "b", 3));
    QCOMPARE(tokenizer_->encode("text text text", 2).ids.size(), size_t(2));
}

void TokenizerTest::movedTokenizerStillEncodes() {
    Tokenizer first(spiece());
    const auto expected = first.encode("moving on", 512).ids;
    Tokenizer second(std::move(first));
    QCOMPARE(second.encode("moving on", 512).ids, expected);
    Tokenizer third(spiece());
    third = std::move(second);
    QCOMPARE(third.encode("moving on", 512).ids, expected);
}

QTEST_GUILESS_MAIN(TokenizerTest)
#include "tst_tokenizer.moc"
