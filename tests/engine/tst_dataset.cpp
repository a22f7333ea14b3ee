// SPDX-License-Identifier: MIT
// Data files: the four GLUE tasks as distributed (row counts, layouts, first rows, label counts),
// then every format detail and every malformed row in memory: BOM, CRLF, CSV quoting, header
// detection, column options, row problems with their line numbers, strict mode, limits, TXT,
// empty files, the import preview, and labelId.
#include "test_support.h"

#include "sida/dataset.h"
#include "sida/errors.h"

#include <QTemporaryDir>
#include <QtTest>

#include <functional>

using namespace sida;
using namespace Qt::StringLiterals;

namespace {

QString q(const std::string& text) { return QString::fromStdString(text); }
QString q(const std::optional<std::string>& text) { return text ? q(*text) : u"<none>"_s; }

QStringList q(const std::vector<std::string>& texts) {
    QStringList list;
    for (const auto& text : texts) list << q(text);
    return list;
}

QStringList texts(const Dataset& d) {
    QStringList list;
    for (const auto& example : d.examples) list << q(example.text);
    return list;
}

QList<qint64> lines(const Dataset& d) {
    QList<qint64> list;
    for (const auto& example : d.examples) list << example.line;
    return list;
}

/// "line: message" for each problem, to compare them all at once.
QStringList problems(const Dataset& d) {
    QStringList list;
    for (const auto& problem : d.problems)
        list << QString::number(problem.line) + u": "_s + q(problem.message);
    return list;
}

QList<int> mapping(const Dataset& d) { return {d.mapping.text, d.mapping.pair, d.mapping.label}; }

/// The message of the sida::Error that `action` throws; empty when it throws nothing.
QString errorFrom(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return QString::fromUtf8(error.what());
    }
    return {};
}

Dataset parse(const std::string& content, const std::string& source = "data.tsv",
              const DatasetOptions& options = {}) {
    return parseDataset(content, source, options);
}

DatasetOptions withoutLabels() {
    DatasetOptions options;
    options.requireLabels = false;
    return options;
}

bool glueAvailable() { return std::filesystem::exists(test::glue("SST-2/dev.tsv")); }

} // namespace

class DatasetTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void glueFiles_data();
    void glueFiles();
    void glueColumnNames();
    void glueLimitAndPreview();

    void byteOrderMark();
    void crlfLineEndings();
    void finalLineEnding();
    void blankLines();
    void tsvKeepsQuotes();
    void csvQuoting();
    void csvCrlfAndQuotedLineBreaks();
    void csvQuotingErrors();
    void headerDetection_data();
    void headerDetection();
    void colaDetection();
    void overrideByName();
    void overrideByIndex();
    void badOverride_data();
    void badOverride();
    void wrongColumnCount();
    void invalidUtf8_data();
    void invalidUtf8();
    void invalidHeader();
    void emptyText();
    void missingLabel();
    void labelsOptional();
    void noTextColumn();
    void noLabelColumn();
    void strictMode();
    void limit();
    void txtFiles();
    void headerOnly();
    void emptyFile_data();
    void emptyFile();
    void everyLineAccountedFor();
    void readFromDisk();
    void unreadableFiles();
    void preview();
    void labelsInOrderOfAppearance();
    void labelIds_data();
    void labelIds();
};

// ---- the GLUE files as distributed -------------------------------------------------------------

void DatasetTest::glueFiles_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("layout");
    QTest::addColumn<int>("count");
    QTest::addColumn<bool>("header");
    QTest::addColumn<bool>("bom");
    QTest::addColumn<QList<int>>("columns");
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("pair");
    QTest::addColumn<QString>("label");
    QTest::addColumn<QStringList>("labels");
    QTest::addColumn<QList<int>>("labelCounts");
    QTest::addColumn<qint64>("lastLine");

    // Row counts from shared/data/README.md, except MRPC train (see below). Label counts and
    // last lines counted independently with Python on the same files.
    QTest::newRow("SST-2 dev") << u"SST-2/dev.tsv"_s << u"SST-2"_s << 872 << true << false
                               << QList<int>{0, -1, 1} << u"it 's a charming and often affecting journey . "_s
                               << u"<none>"_s << u"1"_s << QStringList{"1", "0"} << QList<int>{444, 428}
                               << qint64(873);
    QTest::newRow("SST-2 train") << u"SST-2/train.tsv"_s << u"SST-2"_s << 67349 << true << false
                                 << QList<int>{0, -1, 1} << u"hide new secretions from the parental units "_s
                                 << u"<none>"_s << u"0"_s << QStringList{"0", "1"} << QList<int>{29780, 37569}
                                 << qint64(67350);
    QTest::newRow("MRPC dev")
        << u"MRPC/dev.tsv"_s << u"MRPC"_s << 408 << true << true << QList<int>{3, 4, 0}
        << u"He said the foodservice pie business doesn 't fit the company 's long-term "
           "growth strategy ."_s
        << u"\" The foodservice pie business does not fit our long-term growth strategy ."_s << u"1"_s
        << QStringList{"1", "0"} << QList<int>{279, 129} << qint64(409);
    // The README says 3,668 (the count Hugging Face's glue/mrpc reports), but this copy of
    // train.tsv holds 3,669 lines: the header and 3,667 rows, all well formed (1: 2,473, 0: 1,194).
    QTest::newRow("MRPC train")
        << u"MRPC/train.tsv"_s << u"MRPC"_s << 3667 << true << true << QList<int>{3, 4, 0}
        << u"Amrozi accused his brother , whom he called \" the witness \" , of "
           "deliberately distorting his evidence ."_s
        << u"Referring to him as only \" the witness \" , Amrozi accused his brother of "
           "deliberately distorting his evidence ."_s
        << u"1"_s << QStringList{"1", "0"} << QList<int>{2473, 1194} << qint64(3668);
    QTest::newRow("RTE dev")
        << u"RTE/dev.tsv"_s << u"RTE"_s << 277 << true << false << QList<int>{1, 2, 3}
        << u"Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at "
           "age 44, according to the Christopher Reeve Foundation."_s
        << u"Christopher Reeve had an accident."_s << u"not_entailment"_s
        << QStringList{"not_entailment", "entailment"} << QList<int>{131, 146} << qint64(278);
    QTest::newRow("RTE train") << u"RTE/train.tsv"_s << u"RTE"_s << 2490 << true << false
                               << QList<int>{1, 2, 3}
                               << u"No Weapons of Mass Destruction Found in Iraq Yet."_s
                               << u"Weapons of Mass Destruction Found in Iraq."_s << u"not_entailment"_s
                               << QStringList{"not_entailment", "entailment"} << QList<int>{1241, 1249}
                               << qint64(2491);
    // CoLA has no header, and dev.tsv has no line ending after its last row.
    QTest::newRow("CoLA dev") << u"CoLA/dev.tsv"_s << u"CoLA"_s << 1043 << false << false
                              << QList<int>{3, -1, 1} << u"The sailors rode the breeze clear of the rocks."_s
                              << u"<none>"_s << u"1"_s << QStringList{"1", "0"} << QList<int>{721, 322}
                              << qint64(1043);
    QTest::newRow("CoLA train")
        << u"CoLA/train.tsv"_s << u"CoLA"_s << 8551 << false << false << QList<int>{3, -1, 1}
        << u"Our friends won't buy this analysis, let alone the next one we propose."_s << u"<none>"_s
        << u"1"_s << QStringList{"1", "0"} << QList<int>{6023, 2528} << qint64(8551);
}

void DatasetTest::glueFiles() {
    if (!glueAvailable()) QSKIP("the GLUE data is not in shared/data/glue");
    QFETCH(QString, file);
    QFETCH(QString, layout);
    QFETCH(int, count);
    QFETCH(bool, header);
    QFETCH(bool, bom);
    QFETCH(QList<int>, columns);
    QFETCH(QString, text);
    QFETCH(QString, pair);
    QFETCH(QString, label);
    QFETCH(QStringList, labels);
    QFETCH(QList<int>, labelCounts);
    QFETCH(qint64, lastLine);

    const auto path = test::glue(file.toStdString());
    const Dataset d = readDataset(path);
    QCOMPARE(problems(d), QStringList{});
    QCOMPARE(q(d.source), q(path.string()));
    QCOMPARE(q(d.layout), layout);
    QCOMPARE(d.delimiter, '\t');
    QCOMPARE(d.hasHeader, header);
    QCOMPARE(d.hadByteOrderMark, bom);
    QCOMPARE(mapping(d), columns);
    QCOMPARE(int(d.examples.size()), count);

    const Example& first = d.examples.front();
    QCOMPARE(qint64(first.line), qint64(header ? 2 : 1));
    QCOMPARE(q(first.text), text);
    QCOMPARE(q(first.pair), pair);
    QCOMPARE(q(first.label), label);
    QCOMPARE(qint64(d.examples.back().line), lastLine);

    QCOMPARE(q(d.labels()), labels);
    QList<int> counted(labels.size(), 0);
    for (const auto& example : d.examples) ++counted[labels.indexOf(q(example.label))];
    QCOMPARE(counted, labelCounts);
    // Consecutive lines: nothing was skipped between the first and the last.
    QCOMPARE(qint64(d.examples.back().line - first.line + 1), qint64(count));
}

void DatasetTest::glueColumnNames() {
    if (!glueAvailable()) QSKIP("the GLUE data is not in shared/data/glue");
    QCOMPARE(q(readDataset(test::glue("SST-2/dev.tsv")).columnNames), (QStringList{"sentence", "label"}));
    // The BOM is not part of the first name.
    QCOMPARE(q(readDataset(test::glue("MRPC/dev.tsv")).columnNames),
             (QStringList{"Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"}));
    QCOMPARE(q(readDataset(test::glue("RTE/dev.tsv")).columnNames),
             (QStringList{"index", "sentence1", "sentence2", "label"}));
    QCOMPARE(q(readDataset(test::glue("CoLA/dev.tsv")).columnNames),
             (QStringList{"column 1", "column 2", "column 3", "column 4"}));
}

void DatasetTest::glueLimitAndPreview() {
    if (!glueAvailable()) QSKIP("the GLUE data is not in shared/data/glue");
    DatasetOptions options;
    options.limit = 10;
    const Dataset limited = readDataset(test::glue("SST-2/train.tsv"), options);
    QCOMPARE(int(limited.examples.size()), 10);
    QCOMPARE(qint64(limited.examples.back().line), qint64(11));

    const DatasetPreview preview = previewDataset(test::glue("MRPC/dev.tsv"), 3);
    QCOMPARE(q(preview.detected.layout), u"MRPC"_s);
    QCOMPARE(preview.rows.size(), size_t(3));
    QCOMPARE(q(preview.rows[0]),
             (QStringList{"1", "1355540", "1355592",
                          "He said the foodservice pie business doesn 't fit the company 's "
                          "long-term growth strategy .",
                          "\" The foodservice pie business does not fit our long-term growth "
                          "strategy ."}));
    QCOMPARE(preview.detected.examples.size(), size_t(3));
    QCOMPARE(qint64(preview.detected.examples[2].line), qint64(4));
}

// ---- the file format ---------------------------------------------------------------------------

void DatasetTest::byteOrderMark() {
    const Dataset with = parse("\xEF\xBB\xBFsentence\tlabel\nhello\t1\n");
    QVERIFY(with.hadByteOrderMark);
    QCOMPARE(q(with.layout), u"SST-2"_s);
    QCOMPARE(q(with.columnNames[0]), u"sentence"_s);
    QCOMPARE(texts(with), QStringList{"hello"});

    const Dataset without = parse("sentence\tlabel\nhello\t1\n");
    QVERIFY(!without.hadByteOrderMark);
    QCOMPARE(q(without.layout), u"SST-2"_s);

    // Without a header the BOM must not stick to the first text either.
    const Dataset plain = parse("\xEF\xBB\xBFhello\n", "in.txt", withoutLabels());
    QVERIFY(plain.hadByteOrderMark);
    QCOMPARE(texts(plain), QStringList{"hello"});
}

void DatasetTest::crlfLineEndings() {
    const Dataset d = parse("sentence\tlabel\r\nhello there\t1\r\nworld\t0\r\n");
    QCOMPARE(problems(d), QStringList{});
    QCOMPARE(texts(d), (QStringList{"hello there", "world"}));
    QCOMPARE(q(d.labels()), (QStringList{"1", "0"})); // no "1\r"
    QCOMPARE(lines(d), (QList<qint64>{2, 3}));
    QCOMPARE(q(d.columnNames.back()), u"label"_s);

    const Dataset txt = parse("one\r\ntwo\r\n", "in.txt", withoutLabels());
    QCOMPARE(texts(txt), (QStringList{"one", "two"}));
}

void DatasetTest::finalLineEnding() {
    QCOMPARE(lines(parse("sentence\tlabel\nhello\t1")), QList<qint64>{2});
    const Dataset terminated = parse("sentence\tlabel\nhello\t1\n");
    QCOMPARE(lines(terminated), QList<qint64>{2});
    QCOMPARE(problems(terminated), QStringList{});
    // A second line ending is an empty line, and reported as one.
    const Dataset extra = parse("sentence\tlabel\nhello\t1\n\n");
    QCOMPARE(lines(extra), QList<qint64>{2});
    QCOMPARE(problems(extra), QStringList{"3: is empty"});
}

void DatasetTest::blankLines() {
    const Dataset d = parse("sentence\tlabel\n\na\t1\n  \r\n\t\nb\t0\n");
    QCOMPARE(lines(d), (QList<qint64>{3, 6}));
    QCOMPARE(problems(d), (QStringList{"2: is empty", "4: is empty", "5: is empty"}));

    // Blank lines before the header: the header is found after them, and they are reported.
    const Dataset leading = parse("\n\nsentence\tlabel\na\t1\n");
    QVERIFY(leading.hasHeader);
    QCOMPARE(q(leading.layout), u"SST-2"_s);
    QCOMPARE(lines(leading), QList<qint64>{4});
    QCOMPARE(problems(leading), (QStringList{"1: is empty", "2: is empty"}));
}

void DatasetTest::tsvKeepsQuotes() {
    // GLUE sentences hold unbalanced quotes; a TSV cell is taken as written.
    const Dataset d = parse("sentence\tlabel\n\" quoted start\t1\nsays \"\"hi\"\"\t0\n\"a\tb\"\t1\n");
    QCOMPARE(texts(d), (QStringList{"\" quoted start", "says \"\"hi\"\""}));
    QCOMPARE(problems(d), QStringList{"4: has 3 tab-separated columns, expected 2 as in the header"});
}

void DatasetTest::csvQuoting() {
    const std::string content = "text,label\n"
                                "\"Hello, world\",1\n"
                                "\"She said \"\"hi\"\" twice\",0\n"
                                "\"line one\nline two\",1\n"
                                "plain text,0\n"
                                "\"\"\"quoted\"\"\",\"1\"\n"
                                "bare \"quote\" inside,0\n";
    const Dataset d = parse(content, "data.csv");
    QCOMPARE(problems(d), QStringList{});
    QCOMPARE(d.delimiter, ',');
    QCOMPARE(q(d.layout), u"header"_s);
    QCOMPARE(mapping(d), (QList<int>{0, -1, 1}));
    QCOMPARE(texts(d), (QStringList{"Hello, world", "She said \"hi\" twice", "line one\nline two",
                                    "plain text", "\"quoted\"", "bare \"quote\" inside"}));
    // The quoted line break moves every later row one line down.
    QCOMPARE(lines(d), (QList<qint64>{2, 3, 4, 6, 7, 8}));
    QCOMPARE(q(d.examples[4].label), u"1"_s);
}

void DatasetTest::csvCrlfAndQuotedLineBreaks() {
    const Dataset d = parse("text,label\r\n\"a\r\nb\",1\r\n\"c\",0\r\nd,\"1\"\r\n", "data.csv");
    QCOMPARE(problems(d), QStringList{});
    QCOMPARE(texts(d), (QStringList{"a\r\nb", "c", "d"})); // a quoted line break is kept as written
    QCOMPARE(q(d.labels()), (QStringList{"1", "0"}));
    QCOMPARE(lines(d), (QList<qint64>{2, 4, 5}));
    QCOMPARE(q(d.columnNames), (QStringList{"text", "label"}));
}

void DatasetTest::csvQuotingErrors() {
    const Dataset after = parse("text,label\n\"abc\"x,1\nok,0\n", "data.csv");
    QCOMPARE(texts(after), QStringList{"ok"});
    QCOMPARE(problems(after), QStringList{"2: has text after the closing quote of column 1 (a quote inside a "
                                          "quoted field is written twice: \"\")"});
    QCOMPARE(lines(after), QList<qint64>{3});

    // An unclosed quote swallows the rest of the file, and says so.
    const Dataset unclosed = parse("text,label\nok,1\n\"never closed,0\nmore,1\n", "data.csv");
    QCOMPARE(texts(unclosed), QStringList{"ok"});
    QCOMPARE(problems(unclosed),
             QStringList{
                 "3: has a quote opened on line 3 that is never closed (the rest of the file is inside it)"});
}

void DatasetTest::headerDetection_data() {
    QTest::addColumn<QString>("source");
    QTest::addColumn<QString>("content");
    QTest::addColumn<QString>("layout");
    QTest::addColumn<QList<int>>("columns");

    QTest::newRow("SST-2") << u"a.tsv"_s << u"sentence\tlabel\nx\t1\n"_s << u"SST-2"_s
                           << QList<int>{0, -1, 1};
    QTest::newRow("RTE") << u"a.tsv"_s << u"index\tsentence1\tsentence2\tlabel\n0\tx\ty\tentailment\n"_s
                         << u"RTE"_s << QList<int>{1, 2, 3};
    QTest::newRow("text,label csv") << u"a.csv"_s << u"text,label\nx,1\n"_s << u"header"_s
                                    << QList<int>{0, -1, 1};
    QTest::newRow("HF export with idx")
        << u"a.csv"_s << u"sentence,label,idx\nx,1,0\n"_s << u"header"_s << QList<int>{0, -1, 1};
    QTest::newRow("case and blanks") << u"a.tsv"_s << u" Sentence \t LABEL\nx\t1\n"_s << u"header"_s
                                     << QList<int>{0, -1, 1};
    QTest::newRow("QQP") << u"a.tsv"_s
                         << u"id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tx\ty\t0\n"_s
                         << u"header"_s << QList<int>{3, 4, 5};
    QTest::newRow("QNLI: two text names")
        << u"a.tsv"_s << u"index\tquestion\tsentence\tlabel\n0\tx\ty\tentailment\n"_s << u"header"_s
        << QList<int>{1, 2, 3};
    QTest::newRow("text_a text_b class")
        << u"a.tsv"_s << u"class\ttext_a\ttext_b\n1\tx\ty\n"_s << u"header"_s << QList<int>{1, 2, 0};
    QTest::newRow("MNLI-like gold_label")
        << u"a.tsv"_s << u"pairID\tsentence1\tsentence2\tlabel1\tgold_label\n1\tx\ty\tz\tw\n"_s << u"header"_s
        << QList<int>{1, 2, 4};
    QTest::newRow("header with text only")
        << u"a.tsv"_s << u"text\nx\n"_s << u"header"_s << QList<int>{0, -1, -1};
    QTest::newRow("one column, no header")
        << u"a.tsv"_s << u"just a sentence\n"_s << u"plain"_s << QList<int>{0, -1, -1};
    QTest::newRow("two columns, no header")
        << u"a.tsv"_s << u"x\t1\n"_s << u"columns"_s << QList<int>{-1, -1, -1};
}

void DatasetTest::headerDetection() {
    QFETCH(QString, source);
    QFETCH(QString, content);
    QFETCH(QString, layout);
    QFETCH(QList<int>, columns);
    const DatasetPreview preview = [&] {
        QTemporaryDir dir;
        const auto path = std::filesystem::path(dir.path().toStdString()) / source.toStdString();
        test::writeFile(path, content.toStdString());
        return previewDataset(path, 5);
    }();
    QCOMPARE(q(preview.detected.layout), layout);
    QCOMPARE(mapping(preview.detected), columns);
    QCOMPARE(preview.detected.hasHeader, layout != u"plain"_s && layout != u"columns"_s);
    QCOMPARE(preview.rows.size(), size_t(1));
}

void DatasetTest::colaDetection() {
    const Dataset cola =
        parse("src1\t0\t*\tBad sentence they.\nsrc1\t1\t\tGood sentence.\nsrc2\t1\t??\tOdd one.\n");
    QCOMPARE(q(cola.layout), u"CoLA"_s);
    QCOMPARE(texts(cola), (QStringList{"Bad sentence they.", "Good sentence.", "Odd one."}));
    QCOMPARE(q(cola.labels()), (QStringList{"0", "1"}));

    // Four columns that are not CoLA's (a source code has no blank): nothing is guessed.
    QVERIFY(errorFrom([] { parse("a b\t0\t\tx\n"); }).startsWith(u"data.tsv: no text column found"_s));
    DatasetOptions options;
    options.textColumn = "3";
    options.labelColumn = "1";
    QCOMPARE(q(parse("a b\t0\t\tx\n", "a.tsv", options).layout), u"columns"_s);
    QCOMPARE(q(parse("src\t2\t\tx\n", "a.tsv", options).layout), u"columns"_s);   // labels are 0 or 1
    QCOMPARE(q(parse("src\t1\tok\tx\n", "a.tsv", options).layout), u"columns"_s); // marks are * ? #
}

void DatasetTest::overrideByName() {
    // Unknown names, but the options name them: the first row is the header.
    DatasetOptions options;
    options.textColumn = "review";
    options.labelColumn = "Sentiment"; // any case
    const Dataset d = parse("id\treview\tsentiment\n7\tgreat film\tpos\n8\tdull\tneg\n", "a.tsv", options);
    QVERIFY(d.hasHeader);
    QCOMPARE(q(d.layout), u"header"_s);
    QCOMPARE(mapping(d), (QList<int>{1, -1, 2}));
    QCOMPARE(texts(d), (QStringList{"great film", "dull"}));
    QCOMPARE(q(d.labels()), (QStringList{"pos", "neg"}));

    // Options beat detection: the RTE pair read the other way round.
    DatasetOptions swapped;
    swapped.textColumn = "sentence2";
    swapped.pairColumn = "sentence1";
    const Dataset rte =
        parse("index\tsentence1\tsentence2\tlabel\n0\tpremise\thypothesis\tentailment\n", "a.tsv", swapped);
    QCOMPARE(q(rte.layout), u"RTE"_s);
    QCOMPARE(mapping(rte), (QList<int>{2, 1, 3}));
    QCOMPARE(q(rte.examples[0].text), u"hypothesis"_s);
    QCOMPARE(q(rte.examples[0].pair), u"premise"_s);

    // Without a header the columns are called "column N".
    DatasetOptions byGeneratedName;
    byGeneratedName.textColumn = "column 2";
    byGeneratedName.labelColumn = "column 1";
    const Dataset generated = parse("1\tfirst\n0\tsecond\n", "a.tsv", byGeneratedName);
    QCOMPARE(texts(generated), (QStringList{"first", "second"}));
    QCOMPARE(q(generated.labels()), (QStringList{"1", "0"}));
}

void DatasetTest::overrideByIndex() {
    DatasetOptions options;
    options.textColumn = "2";
    options.pairColumn = "1";
    options.labelColumn = "0";
    const Dataset d = parse("pos\tfirst half\tsecond half\nneg\tmore\tstill more\n", "a.tsv", options);
    QVERIFY(!d.hasHeader);
    QCOMPARE(q(d.layout), u"columns"_s);
    QCOMPARE(mapping(d), (QList<int>{2, 1, 0}));
    QCOMPARE(lines(d), (QList<qint64>{1, 2}));
    QCOMPARE(q(d.examples[1].text), u"still more"_s);
    QCOMPARE(q(d.examples[1].pair), u"more"_s);
    QCOMPARE(q(d.examples[1].label), u"neg"_s);

    // An index also works on a file with a header, and beats the detected column.
    DatasetOptions labelFirst;
    labelFirst.textColumn = "1";
    labelFirst.labelColumn = "0";
    const Dataset sst = parse("sentence\tlabel\nx\t1\n", "a.tsv", labelFirst);
    QCOMPARE(mapping(sst), (QList<int>{1, -1, 0}));
    QCOMPARE(q(sst.examples[0].text), u"1"_s);
}

void DatasetTest::badOverride_data() {
    QTest::addColumn<QString>("option");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("message");
    const QString columns = u"0 'sentence', 1 'label'"_s;
    QTest::newRow("unknown name")
        << u"text"_s << u"review"_s
        << u"a.tsv: textColumn 'review' is not a column of the file; its columns are "_s + columns;
    QTest::newRow("index out of range")
        << u"label"_s << u"2"_s
        << u"a.tsv: labelColumn 2 is out of range: the file has 2 columns ("_s + columns + u")"_s;
    QTest::newRow("negative index") << u"pair"_s << u"-1"_s
                                    << u"a.tsv: pairColumn -1 is out of range: the file has 2 columns ("_s +
                                           columns + u")"_s;
    QTest::newRow("empty name") << u"text"_s << u""_s
                                << u"a.tsv: textColumn '' is not a column of the file; its columns are "_s +
                                       columns;
}

void DatasetTest::badOverride() {
    QFETCH(QString, option);
    QFETCH(QString, value);
    QFETCH(QString, message);
    DatasetOptions options;
    (option == u"text"_s   ? options.textColumn
     : option == u"pair"_s ? options.pairColumn
                           : options.labelColumn) = value.toStdString();
    QCOMPARE(errorFrom([&] { parse("sentence\tlabel\nx\t1\n", "a.tsv", options); }), message);
}

// ---- malformed rows ------------------------------------------------------------------------------

void DatasetTest::wrongColumnCount() {
    const Dataset d = parse("sentence\tlabel\na\t1\nb\t0\textra\nc\nd\t1\n");
    QCOMPARE(lines(d), (QList<qint64>{2, 5}));
    QCOMPARE(problems(d), (QStringList{"3: has 3 tab-separated columns, expected 2 as in the header",
                                       "4: has 1 tab-separated columns, expected 2 as in the header"}));

    // Without a header the first row sets the count (here after a blank line).
    DatasetOptions options;
    options.textColumn = "1";
    options.labelColumn = "0";
    const Dataset headerless = parse("\n1\ta\n0\tb\tc\n", "a.tsv", options);
    QCOMPARE(lines(headerless), QList<qint64>{2});
    QCOMPARE(problems(headerless),
             (QStringList{"1: is empty", "3: has 3 tab-separated columns, expected 2 as on line 2"}));

    const Dataset csv = parse("text,label\n\"a, b\",1\na,b,1\n", "a.csv");
    QCOMPARE(problems(csv), QStringList{"3: has 3 comma-separated columns, expected 2 as in the header"});
}

void DatasetTest::invalidUtf8_data() {
    QTest::addColumn<QByteArray>("row");
    QTest::addColumn<int>("byteInRow");
    QTest::newRow("stray continuation byte") << QByteArray("bad \x80 text\t0") << 4;
    QTest::newRow("0xff") << QByteArray("\xff\t0") << 0;
    QTest::newRow("overlong slash") << QByteArray("ab\xc0\xaf\t0") << 2;
    QTest::newRow("surrogate") << QByteArray("x\xed\xa0\x80\t0") << 1;
    QTest::newRow("truncated sequence") << QByteArray("caf\xc3\t0") << 3;
    QTest::newRow("in the label") << QByteArray("fine\t1\xe2\x82") << 6;
}

void DatasetTest::invalidUtf8() {
    QFETCH(QByteArray, row);
    QFETCH(int, byteInRow);
    const std::string header = "sentence\tlabel\nok\t1\n"; // the bad row starts at byte 20
    for (const bool bom : {false, true}) {
        const std::string content = (bom ? "\xEF\xBB\xBF" : "") + header + row.toStdString() + "\nnext\t0\n";
        const Dataset d = parse(content);
        QCOMPARE(texts(d), (QStringList{"ok", "next"}));
        const int inFile = 20 + byteInRow + (bom ? 3 : 0); // offsets count the BOM, as a hex editor does
        QCOMPARE(problems(d),
                 QStringList{
                     u"3: is not valid UTF-8 (byte %1 of the row, byte %2 of the file)"_s.arg(byteInRow).arg(
                         inFile)});
    }
}

void DatasetTest::invalidHeader() {
    // A header names the columns; with a broken name there is nothing to map, so the file fails.
    const std::string content = "\xEF\xBB\xBFsentence\tla\xff"
                                "bel\nx\t1\n";
    QCOMPARE(errorFrom([&] { parse(content); }),
             u"data.tsv:1: the header is not valid UTF-8 (byte 14 of the file)"_s);
}

void DatasetTest::emptyText() {
    const Dataset d = parse("sentence\tlabel\n\t1\n   \t0\n\xC2\xA0\xE3\x80\x80\t1\nfine\t0\n");
    QCOMPARE(texts(d), QStringList{"fine"});
    QCOMPARE(
        problems(d),
        (QStringList{"2: has an empty text in column 'sentence'", "3: has an empty text in column 'sentence'",
                     "4: has an empty text in column 'sentence'"})); // no-break, ideographic

    const Dataset pair =
        parse("index\tsentence1\tsentence2\tlabel\n0\tpremise\t \tentailment\n1\tp\th\tentailment\n");
    QCOMPARE(problems(pair), QStringList{"2: has an empty second text in column 'sentence2'"});
    QCOMPARE(lines(pair), QList<qint64>{3});
}

void DatasetTest::missingLabel() {
    const Dataset d = parse("sentence\tlabel\na\t\nb\t  \nc\t 1 \n");
    QCOMPARE(problems(d),
             (QStringList{"2: has no label in column 'label'", "3: has no label in column 'label'"}));
    QCOMPARE(texts(d), QStringList{"c"});
    QCOMPARE(q(d.examples[0].label), u"1"_s); // trimmed; the text is not

    const Dataset csv = parse("text,label\n\"x\",\"\"\n", "a.csv");
    QCOMPARE(problems(csv), QStringList{"2: has no label in column 'label'"});
}

void DatasetTest::labelsOptional() {
    const Dataset d = parse("sentence\tlabel\na\t\nb\t  \nc\t1\n", "a.tsv", withoutLabels());
    QCOMPARE(problems(d), QStringList{});
    QCOMPARE(texts(d), (QStringList{"a", "b", "c"}));
    QVERIFY(!d.examples[0].label);
    QVERIFY(!d.examples[1].label);
    QCOMPARE(q(d.examples[2].label), u"1"_s);
    QCOMPARE(q(d.labels()), QStringList{"1"});
    // Column counts are still checked.
    QCOMPARE(problems(parse("sentence\tlabel\na\n", "a.tsv", withoutLabels())),
             QStringList{"2: has 1 tab-separated columns, expected 2 as in the header"});
}

void DatasetTest::noTextColumn() {
    QCOMPARE(errorFrom([] { parse("id\tlabel\n1\t0\n"); }),
             u"data.tsv: no text column found (columns: 0 'id', 1 'label'); name it with textColumn"_s);
    QCOMPARE(errorFrom([] { parse("x\t1\n"); }),
             u"data.tsv: no text column found (columns: 0 'column 1', 1 'column 2'); the file has no header; "
             "name it with textColumn"_s);
}

void DatasetTest::noLabelColumn() {
    QCOMPARE(
        errorFrom([] { parse("sentence\nhello\n"); }),
        u"data.tsv: no label column found (columns: 0 'sentence'); name it with labelColumn, or read the "
        "file without labels"_s);
    const Dataset d = parse("sentence\nhello\n", "data.tsv", withoutLabels());
    QCOMPARE(texts(d), QStringList{"hello"});
    QVERIFY(!d.examples[0].label);
    QCOMPARE(d.mapping.label, -1);
}

void DatasetTest::strictMode() {
    DatasetOptions options;
    options.strict = true;
    const std::string bad = "sentence\tlabel\na\t1\nb\t0\nc\t1\textra\nd\t\n";
    QCOMPARE(errorFrom([&] { parse(bad, "train.tsv", options); }),
             u"train.tsv:4: has 3 tab-separated columns, expected 2 as in the header"_s);
    QCOMPARE(errorFrom([&] { parse("sentence\tlabel\na\t1\n\nb\t0\n", "train.tsv", options); }),
             u"train.tsv:3: is empty"_s);
    QCOMPARE(errorFrom([&] { parse("sentence\tlabel\na\t1\nb\xff\t0\n", "train.tsv", options); }),
             u"train.tsv:3: is not valid UTF-8 (byte 1 of the row, byte 20 of the file)"_s);
    QCOMPARE(
        errorFrom([&] { parse("text,label\nok,1\n\"open,0\n", "train.csv", options); }),
        u"train.csv:3: has a quote opened on line 3 that is never closed (the rest of the file is inside it)"_s);
    // A clean file reads the same in strict mode.
    const Dataset clean = parse("sentence\tlabel\na\t1\nb\t0\n", "train.tsv", options);
    QCOMPARE(texts(clean), (QStringList{"a", "b"}));
}

void DatasetTest::limit() {
    DatasetOptions options;
    options.limit = 2;
    const std::string content = "sentence\tlabel\na\t1\n\t0\nb\t0\nc\t1\n\td\n";
    const Dataset d = parse(content, "a.tsv", options);
    QCOMPARE(texts(d), (QStringList{"a", "b"}));
    // Problems before the limit are reported; rows after it are not read.
    QCOMPARE(problems(d), QStringList{"3: has an empty text in column 'sentence'"});

    options.limit = 0;
    QCOMPARE(parse(content, "a.tsv", options).examples.size(), size_t(0));
    options.limit = 100;
    QCOMPARE(parse(content, "a.tsv", options).examples.size(), size_t(3));
}

void DatasetTest::txtFiles() {
    // One text per line; no header detection, even for a line that reads like one.
    const Dataset plain = parse("sentence\nsecond text\n", "in.txt", withoutLabels());
    QVERIFY(!plain.hasHeader);
    QCOMPARE(q(plain.layout), u"plain"_s);
    QCOMPARE(mapping(plain), (QList<int>{0, -1, -1}));
    QCOMPARE(texts(plain), (QStringList{"sentence", "second text"}));
    QVERIFY(!plain.examples[1].pair);

    // A tab separates a sentence pair.
    const Dataset pairs =
        parse("A man sleeps.\tA person rests.\nIt rains.\tThe sun shines.\n", "pairs.TXT", withoutLabels());
    QCOMPARE(q(pairs.layout), u"plain"_s);
    QCOMPARE(mapping(pairs), (QList<int>{0, 1, -1}));
    QCOMPARE(q(pairs.examples[1].text), u"It rains."_s);
    QCOMPARE(q(pairs.examples[1].pair), u"The sun shines."_s);

    // The first line decides between texts and pairs.
    const Dataset mixed = parse("a\tb\nc\nd\te\tf\n", "in.txt", withoutLabels());
    QCOMPARE(lines(mixed), QList<qint64>{1});
    QCOMPARE(problems(mixed), (QStringList{"2: has 1 tab-separated columns, expected 2 as on line 1",
                                           "3: has 3 tab-separated columns, expected 2 as on line 1"}));

    QCOMPARE(
        errorFrom([] { parse("a\tb\tc\n", "in.txt", withoutLabels()); }),
        u"in.txt:1: has 3 tab-separated parts; a .txt file holds one text per line, or two separated by a "
        "tab"_s);
    // A .txt file has no labels, so reading one as training data is an error, not a silent miss.
    QVERIFY(errorFrom([] { parse("a\n", "in.txt"); }).startsWith(u"in.txt: no label column found"_s));
}

void DatasetTest::headerOnly() {
    for (const char* content : {"sentence\tlabel\n", "sentence\tlabel"}) {
        const Dataset d = parse(content);
        QVERIFY(d.hasHeader);
        QCOMPARE(q(d.layout), u"SST-2"_s);
        QCOMPARE(d.examples.size(), size_t(0));
        QCOMPARE(problems(d), QStringList{});
        QCOMPARE(d.labels().size(), size_t(0));
    }
}

void DatasetTest::emptyFile_data() {
    QTest::addColumn<QByteArray>("content");
    QTest::newRow("no bytes") << QByteArray("");
    QTest::newRow("only a BOM") << QByteArray("\xEF\xBB\xBF");
    QTest::newRow("line endings") << QByteArray("\n\n");
    QTest::newRow("blanks") << QByteArray("  \r\n\t\n");
}

void DatasetTest::emptyFile() {
    QFETCH(QByteArray, content);
    for (const char* source : {"empty.tsv", "empty.csv", "empty.txt"})
        QCOMPARE(errorFrom([&] { parse(content.toStdString(), source, withoutLabels()); }),
                 QString::fromLatin1(source) + u": the file is empty"_s);
}

// Every line after the header is an example or a problem, whatever is wrong with it.
void DatasetTest::everyLineAccountedFor() {
    const std::string content = "sentence\tlabel\n"
                                "good\t1\n"
                                "\n"
                                "no label\t\n"
                                "\t0\n"
                                "too\tmany\tcolumns\n"
                                "bad \xfe byte\t1\n"
                                "too few\n"
                                "fine again\t0\r\n"
                                "   \n"
                                "last\t1";
    const Dataset d = parse(content);
    QCOMPARE(lines(d), (QList<qint64>{2, 9, 11}));
    QList<qint64> seen = lines(d);
    for (const auto& problem : d.problems) seen << problem.line;
    std::sort(seen.begin(), seen.end());
    QList<qint64> expected;
    for (qint64 line = 2; line <= 11; ++line) expected << line;
    QCOMPARE(seen, expected);
}

// ---- files on disk -------------------------------------------------------------------------------

void DatasetTest::readFromDisk() {
    QTemporaryDir dir;
    const std::filesystem::path folder = dir.path().toStdString();
    // The extension picks the format, in any case.
    test::writeFile(folder / "reviews.CSV", "text,label\n\"good, really\",1\n");
    const Dataset csv = readDataset(folder / "reviews.CSV");
    QCOMPARE(csv.delimiter, ',');
    QCOMPARE(texts(csv), QStringList{"good, really"});
    QCOMPARE(q(csv.source), q((folder / "reviews.CSV").string()));

    // Anything that is not .csv or .txt is tab-separated: quotes and commas stay.
    test::writeFile(folder / "reviews.data", "text\tlabel\n\"good, really\"\t1\n");
    QCOMPARE(texts(readDataset(folder / "reviews.data")), QStringList{"\"good, really\""});

    test::writeFile(folder / "broken.tsv", "sentence\tlabel\nok\t1\nbad\n");
    DatasetOptions strict;
    strict.strict = true;
    QCOMPARE(errorFrom([&] { readDataset(folder / "broken.tsv", strict); }),
             q((folder / "broken.tsv").string()) +
                 u":3: has 1 tab-separated columns, expected 2 as in the header"_s);
}

void DatasetTest::unreadableFiles() {
    QTemporaryDir dir;
    const std::filesystem::path folder = dir.path().toStdString();
    const auto missing = folder / "missing.tsv";
    QCOMPARE(errorFrom([&] { readDataset(missing); }), u"'"_s + q(missing.string()) + u"' does not exist"_s);
    QCOMPARE(errorFrom([&] { previewDataset(missing, 5); }),
             u"'"_s + q(missing.string()) + u"' does not exist"_s);
    QCOMPARE(errorFrom([&] { readDataset(folder); }),
             u"'"_s + q(folder.string()) + u"' is a folder, not a data file"_s);
    test::writeFile(folder / "empty.tsv", "");
    QCOMPARE(errorFrom([&] { readDataset(folder / "empty.tsv"); }),
             q((folder / "empty.tsv").string()) + u": the file is empty"_s);
}

void DatasetTest::preview() {
    QTemporaryDir dir;
    const std::filesystem::path folder = dir.path().toStdString();
    test::writeFile(folder / "a.tsv", "sentence\tlabel\nfirst\t1\nbroken\nthird\t0\nfourth\t1\nfifth\t0\n");
    DatasetOptions strict;
    strict.strict = true;
    strict.limit = 1;
    const DatasetPreview p = previewDataset(folder / "a.tsv", 3, strict); // neither strict nor limit applies
    QCOMPARE(p.rows.size(), size_t(3));
    QCOMPARE(q(p.rows[0]), (QStringList{"first", "1"}));
    QCOMPARE(q(p.rows[1]), QStringList{"broken"});
    QCOMPARE(texts(p.detected), (QStringList{"first", "third"}));
    QCOMPARE(problems(p.detected),
             QStringList{"3: has 1 tab-separated columns, expected 2 as in the header"});
    QCOMPARE(q(p.detected.layout), u"SST-2"_s);

    // No text column: the preview still shows the cells, for the user to choose one.
    test::writeFile(folder / "b.tsv", "id\tlabel\n1\t0\n2\t1\n");
    const DatasetPreview unmapped = previewDataset(folder / "b.tsv", 10);
    QCOMPARE(unmapped.detected.mapping.text, -1);
    QCOMPARE(unmapped.rows.size(), size_t(2));
    QCOMPARE(unmapped.detected.examples.size(), size_t(0));
    // ... and once chosen, the preview shows the examples.
    DatasetOptions chosen;
    chosen.textColumn = "id";
    QCOMPARE(texts(previewDataset(folder / "b.tsv", 10, chosen).detected), (QStringList{"1", "2"}));

    // Headerless files preview their first row too; a bad option still throws.
    test::writeFile(folder / "c.tsv", "x\t1\ny\t0\n");
    const DatasetPreview headerless = previewDataset(folder / "c.tsv", 1);
    QCOMPARE(headerless.rows.size(), size_t(1));
    QCOMPARE(q(headerless.rows[0]), (QStringList{"x", "1"}));
    QCOMPARE(q(headerless.detected.layout), u"columns"_s);
    QCOMPARE(previewDataset(folder / "c.tsv", 0).rows.size(), size_t(0));
    DatasetOptions bad;
    bad.labelColumn = "9";
    QVERIFY(errorFrom([&] {
                previewDataset(folder / "c.tsv", 5, bad);
            }).contains(u"labelColumn 9 is out of range"_s));
}

// ---- labels --------------------------------------------------------------------------------------

void DatasetTest::labelsInOrderOfAppearance() {
    const Dataset d =
        parse("sentence\tlabel\na\tneutral\nb\tentailment\nc\tneutral\nd\tcontradiction\ne\tentailment\n");
    QCOMPARE(q(d.labels()), (QStringList{"neutral", "entailment", "contradiction"}));
}

void DatasetTest::labelIds_data() {
    QTest::addColumn<QString>("label");
    QTest::addColumn<QStringList>("labels");
    QTest::addColumn<qint64>("id");
    const QStringList sentiment{"negative", "positive"};
    QTest::newRow("integer") << u"1"_s << sentiment << qint64(1);
    QTest::newRow("zero") << u"0"_s << sentiment << qint64(0);
    QTest::newRow("integer out of range") << u"2"_s << sentiment << qint64(-1);
    QTest::newRow("negative") << u"-1"_s << sentiment << qint64(-1);
    QTest::newRow("name") << u"positive"_s << sentiment << qint64(1);
    QTest::newRow("name is exact") << u"Positive"_s << sentiment << qint64(-1);
    QTest::newRow("not a number") << u"1.0"_s << sentiment << qint64(-1);
    QTest::newRow("blank around") << u" 1"_s << sentiment << qint64(-1);
    QTest::newRow("empty") << u""_s << sentiment << qint64(-1);
    QTest::newRow("RTE") << u"not_entailment"_s << QStringList{"entailment", "not_entailment"} << qint64(1);
    QTest::newRow("no labels") << u"0"_s << QStringList{} << qint64(-1);
    // An integer that is no id may still be a name.
    QTest::newRow("number as name") << u"7"_s << QStringList{"5", "7"} << qint64(1);
    QTest::newRow("integer first") << u"0"_s << QStringList{"1", "0"} << qint64(0);
}

void DatasetTest::labelIds() {
    QFETCH(QString, label);
    QFETCH(QStringList, labels);
    QFETCH(qint64, id);
    std::vector<std::string> names;
    for (const auto& name : labels) names.push_back(name.toStdString());
    QCOMPARE(qint64(labelId(label.toStdString(), names)), id);
}

QTEST_GUILESS_MAIN(DatasetTest)
#include "tst_dataset.moc"
