// SPDX-License-Identifier: MIT
// The item models behind SiDA Studio's tables, without a window: the results table (pending rows,
// results, errors, cancellations, sorting, filtering, CSV/JSON/TSV), the job queue, the miss list and
// its filters, the text box's input lines, and data-file import (BOM, header, bad rows).
#include "dataset_import.h"
#include "job_queue_model.h"
#include "miss_list_model.h"
#include "results_model.h"
#include "synthetic_traces.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace sida;
using namespace sida::ui;
using namespace Qt::StringLiterals;

namespace {

RequestResult answer(const Request& request, uint64_t requestId, uint64_t jobId, const std::string& label,
                     double confidence) {
    RequestResult r;
    r.requestId = requestId;
    r.jobId = jobId;
    r.tag = request.tag;
    r.batchIndex = 7;
    r.latencyMs = 12.5;
    r.expertsActivated = 4;
    r.predictorHits = 3;
    r.predictorMisses = 1;
    r.classification.label = label == "positive" ? 1 : 0;
    r.classification.labelName = label;
    r.classification.confidence = confidence;
    r.classification.tokens = 6;
    return r;
}

RequestResult failure(const Request& request, uint64_t jobId, const std::string& error,
                      bool cancelled = false) {
    RequestResult r;
    r.jobId = jobId;
    r.tag = request.tag;
    r.cancelled = cancelled;
    r.classification.error = error;
    return r;
}

QList<InputText> inputs(const QStringList& texts) {
    QList<InputText> list;
    for (const QString& text : texts) list << InputText{text, std::nullopt, {}, 0};
    return list;
}

QString cell(const QAbstractItemModel& model, int row, int column) {
    return model.index(row, column).data().toString();
}

QString writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& bytes) {
    const QString path = dir.filePath(name);
    std::ofstream(path.toStdString(), std::ios::binary).write(bytes.constData(), bytes.size());
    return path;
}

} // namespace

class ItemModelsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void inputLinesSplitPairsAndSkipBlanks() {
        const QList<InputText> lines = parseInputLines(u"first\r\n\n  \nsecond\tpair\nthird"_s);
        QCOMPARE(lines.size(), 3);
        QCOMPARE(lines[0].text, u"first"_s);
        QVERIFY(!lines[0].pair);
        QCOMPARE(lines[1].text, u"second"_s);
        QCOMPARE(lines[1].pair.value_or(QString()), u"pair"_s);
        QCOMPARE(lines[2].line, 5);
    }

    void pendingRowsAreFilledByTheirResults() {
        ResultsModel model;
        const auto requests = model.addPending(inputs({u"good film"_s, u"bad film"_s, u"fine"_s}));
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.pendingCount(), 3);
        QCOMPARE(cell(model, 0, ResultsModel::StatusColumn), u"queued"_s);
        model.assignJob(requests, 42);
        // Results arrive in any grouping; each finds its row by its tag.
        const int filled = model.applyResults(
            {answer(requests[1], 11, 42, "negative", 0.8), answer(requests[0], 10, 42, "positive", 0.95)});
        QCOMPARE(filled, 2);
        QCOMPARE(cell(model, 0, ResultsModel::LabelColumn), u"positive"_s);
        QCOMPARE(cell(model, 0, ResultsModel::ConfidenceColumn), u"95.0%"_s);
        QCOMPARE(cell(model, 0, ResultsModel::LatencyColumn), u"12.5 ms"_s);
        QCOMPARE(cell(model, 0, ResultsModel::ExpertsColumn), u"4"_s);
        QCOMPARE(cell(model, 0, ResultsModel::HitsColumn), u"3"_s);
        QCOMPARE(cell(model, 0, ResultsModel::MissesColumn), u"1"_s);
        QCOMPARE(model.index(0, 0).data(ResultsModel::BatchIndexRole).toULongLong(), 7u);
        QCOMPARE(model.index(0, 0).data(ResultsModel::RequestIdRole).toULongLong(), 10u);
        QCOMPARE(cell(model, 1, ResultsModel::LabelColumn), u"negative"_s);
        QCOMPARE(model.pendingCount(), 1);
        QCOMPARE(cell(model, 2, ResultsModel::LabelColumn), QString());
    }

    void errorsAndCancellationsStayInTheirRows() {
        ResultsModel model;
        const auto requests = model.addPending(inputs({u""_s, u"ok"_s, u"later"_s}));
        model.applyResults({failure(requests[0], 1, "the text is empty"),
                            answer(requests[1], 2, 1, "positive", 0.6),
                            failure(requests[2], 1, "cancelled", true)});
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(cell(model, 0, ResultsModel::StatusColumn), u"the text is empty"_s);
        QCOMPARE(model.index(0, ResultsModel::StatusColumn).data(Qt::ToolTipRole).toString(),
                 u"the text is empty"_s);
        QCOMPARE(cell(model, 1, ResultsModel::StatusColumn), u"done"_s);
        QCOMPARE(cell(model, 2, ResultsModel::StatusColumn), u"cancelled"_s);
        QCOMPARE(model.failedCount(), 1);
        QCOMPARE(model.pendingCount(), 0);
    }

    void rowsTheEngineNeverSawGetTheReason() {
        ResultsModel model;
        const auto requests = model.addPending(inputs({u"a"_s, u"b"_s}));
        model.failRequests(requests, u"no model is loaded"_s);
        QCOMPARE(model.failedCount(), 2);
        QCOMPARE(cell(model, 1, ResultsModel::StatusColumn), u"no model is loaded"_s);
        // An engine that went away leaves no row pending either.
        model.addPending(inputs({u"c"_s}));
        QCOMPARE(model.failPending(u"the pipeline stopped"_s), 1);
        QCOMPARE(model.pendingCount(), 0);
    }

    void unknownTagsAreIgnored() {
        ResultsModel model;
        model.addPending(inputs({u"a"_s}));
        Request stranger;
        stranger.tag = "exp:1:0:0";
        QCOMPARE(model.applyResults({answer(stranger, 1, 1, "positive", 0.5)}), 0);
        stranger.tag = "row:999";
        QCOMPARE(model.applyResults({answer(stranger, 1, 1, "positive", 0.5)}), 0);
        QCOMPARE(model.pendingCount(), 1);
    }

    void sortsByValueAndFilters() {
        ResultsModel model;
        const auto requests = model.addPending(inputs({u"alpha"_s, u"beta"_s, u"gamma"_s}));
        model.applyResults({answer(requests[0], 1, 1, "positive", 0.9),
                            answer(requests[1], 2, 1, "negative", 0.55),
                            answer(requests[2], 3, 1, "positive", 0.7)});
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(ResultsModel::SortRole);
        proxy.sort(ResultsModel::ConfidenceColumn, Qt::AscendingOrder);
        QCOMPARE(cell(proxy, 0, ResultsModel::TextColumn), u"beta"_s);
        QCOMPARE(cell(proxy, 2, ResultsModel::TextColumn), u"alpha"_s);
        proxy.setFilterKeyColumn(-1);
        proxy.setFilterCaseSensitivity(Qt::CaseInsensitive);
        proxy.setFilterFixedString(u"NEGATIVE"_s);
        QCOMPARE(proxy.rowCount(), 1);
        QCOMPARE(cell(proxy, 0, ResultsModel::TextColumn), u"beta"_s);
    }

    void exportsCsvJsonAndTsv() {
        ResultsModel model;
        QList<InputText> in = inputs({u"says \"hi\", twice"_s, u"line"_s});
        in[1].pair = u"second"_s;
        in[1].expectedLabel = u"1"_s;
        const auto requests = model.addPending(in);
        model.applyResults(
            {answer(requests[0], 1, 1, "positive", 0.5), failure(requests[1], 1, "bad, very bad")});
        const QStringList csv = model.toCsv().split(u"\r\n"_s, Qt::SkipEmptyParts);
        QCOMPARE(csv.size(), 3);
        QVERIFY(csv[0].startsWith(u"index,text,pair,expected,label,confidence"_s));
        QVERIFY2(csv[1].startsWith(u"1,\"says \"\"hi\"\", twice\",,,positive,0.500000"_s),
                 qPrintable(csv[1]));
        QVERIFY2(csv[2].endsWith(u",error,\"bad, very bad\""_s), qPrintable(csv[2]));
        QVERIFY(csv[2].contains(u",line,second,1,"_s));

        const QJsonArray json = QJsonDocument::fromJson(model.toJson()).array();
        QCOMPARE(json.size(), 2);
        QCOMPARE(json[0].toObject()[u"label"_s].toString(), u"positive"_s);
        QCOMPARE(json[0].toObject()[u"predictor_misses"_s].toInt(), 1);
        QCOMPARE(json[1].toObject()[u"status"_s].toString(), u"error"_s);
        QCOMPARE(json[1].toObject()[u"pair"_s].toString(), u"second"_s);
        QVERIFY(!json[1].toObject().contains(u"label"_s));

        const QStringList tsv = model.toTsv({1}).split(u'\n', Qt::SkipEmptyParts);
        QCOMPARE(tsv.size(), 2);
        QCOMPARE(tsv[0].split(u'\t').size(), int(ResultsModel::ColumnCount));
        QVERIFY(tsv[1].contains(u"bad, very bad"_s));
    }

    void clearFinishedKeepsPendingRows() {
        ResultsModel model;
        const auto requests = model.addPending(inputs({u"a"_s, u"b"_s}));
        model.applyResults({answer(requests[0], 1, 1, "positive", 0.5)});
        model.clearFinished();
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(cell(model, 0, ResultsModel::TextColumn), u"b"_s);
        // The remaining row still finds its result.
        QCOMPARE(model.applyResults({answer(requests[1], 2, 1, "negative", 0.5)}), 1);
    }

    void jobQueueTracksProgressAndState() {
        JobQueueModel jobs;
        QSignalSpy finished(&jobs, &JobQueueModel::jobFinished);
        jobs.addJob(5, u"typed"_s, 3);
        QCOMPARE(cell(jobs, 0, JobQueueModel::StateColumn), u"queued"_s);
        Request request;
        jobs.recordResults({answer(request, 1, 5, "positive", 0.5)});
        QCOMPARE(cell(jobs, 0, JobQueueModel::ProgressColumn), u"1 / 3"_s);
        QCOMPARE(cell(jobs, 0, JobQueueModel::StateColumn), u"running"_s);
        QCOMPARE(jobs.index(0, 0).data(JobQueueModel::ProgressRole).toDouble(), 1.0 / 3.0);
        jobs.recordResults({failure(request, 5, "empty"), answer(request, 3, 5, "negative", 0.5)});
        QCOMPARE(cell(jobs, 0, JobQueueModel::StateColumn), u"finished (1 errors)"_s);
        QCOMPARE(finished.size(), 1);
        QCOMPARE(jobs.activeCount(), 0);
        // Results of jobs the queue does not know (a comparison's) change nothing.
        jobs.recordResults({answer(request, 9, 77, "positive", 0.5)});
        QCOMPARE(jobs.rowCount(), 1);
    }

    void cancelledJobsSayWhatHappened() {
        JobQueueModel jobs;
        jobs.addJob(1, u"big"_s, 4);
        Request request;
        jobs.recordResults({answer(request, 1, 1, "positive", 0.5)});
        jobs.markCancelling(1);
        QCOMPARE(cell(jobs, 0, JobQueueModel::StateColumn), u"cancelling"_s);
        QVERIFY(jobs.job(0).isActive());
        jobs.recordResults({failure(request, 1, "cancelled", true), failure(request, 1, "cancelled", true),
                            answer(request, 2, 1, "positive", 0.5)});
        QCOMPARE(cell(jobs, 0, JobQueueModel::StateColumn), u"cancelled"_s);
        QVERIFY(!jobs.job(0).isActive());

        jobs.addJob(2, u"doomed"_s, 2);
        jobs.failActive(u"the model was closed"_s);
        QCOMPARE(cell(jobs, 1, JobQueueModel::StateColumn), u"failed: the model was closed"_s);
        jobs.clearFinished();
        QCOMPARE(jobs.rowCount(), 0);
    }

    void missListHoldsEveryMiss() {
        MissListModel misses;
        test::TraceShape shape;
        shape.lengths = {5, 3};
        misses.addTraces({test::makeTrace(shape)});
        // Tokens 0 and 3 of the first sequence, token 0 of the second, in each of 2 layers.
        QCOMPARE(misses.rowCount(), 6);
        const MissListModel::Miss& first = misses.miss(0);
        QCOMPARE(first.requestId, 1u);
        QCOMPARE(first.token, 0);
        QCOMPARE(first.layer, 0);
        QCOMPARE(first.predicted, test::predictedExpert(0, 0, 8));
        QCOMPARE(first.router, test::routerExpert(0, 0, 8));
        QCOMPARE(first.sentence, u"word0 word1 word2 word3"_s);
        QCOMPARE(cell(misses, 0, MissListModel::PredictedColumn), u"0 (70.0%)"_s);
        QCOMPARE(cell(misses, 0, MissListModel::RouterColumn), u"1 (60.0%)"_s);
        QCOMPARE(misses.index(0, 0).data(MissListModel::BatchIndexRole).toULongLong(), 1u);

        MissFilterProxy filter;
        filter.setSourceModel(&misses);
        filter.setLayer(1);
        QCOMPARE(filter.rowCount(), 3);
        filter.setExpert(test::routerExpert(3, 1, 8));
        for (int r = 0; r < filter.rowCount(); ++r) {
            const QModelIndex index = filter.index(r, 0);
            QVERIFY(index.data(MissListModel::PredictedRole).toInt() == filter.expert() ||
                    index.data(MissListModel::RouterRole).toInt() == filter.expert());
        }
        QVERIFY(filter.rowCount() >= 1);
        filter.setLayer(-1);
        filter.setExpert(-1);
        QCOMPARE(filter.rowCount(), 6);
    }

    void missListDropsTheOldestBeyondItsCapacity() {
        MissListModel misses(nullptr, 4);
        test::TraceShape shape;
        misses.addTraces({test::makeTrace(shape)});
        QCOMPARE(misses.rowCount(), 4);
        QCOMPARE(misses.dropped(), 2u);
        shape.batchIndex = 2;
        misses.addTraces({test::makeTrace(shape)});
        QCOMPARE(misses.rowCount(), 4);
        QCOMPARE(misses.miss(3).batchIndex, 2u);
        QCOMPARE(misses.dropped(), 8u);
    }

    void noRouterNoMisses() {
        MissListModel misses;
        test::TraceShape shape;
        shape.router = false;
        misses.addTraces({test::makeTrace(shape)});
        QCOMPARE(misses.rowCount(), 0);
    }

    void importReadsBomHeaderAndListsBadRows() {
        QTemporaryDir dir;
        const QString path = writeFile(dir, u"reviews.tsv"_s,
                                       "\xEF\xBB\xBFsentence\tlabel\n"
                                       "a fine film\t1\n"
                                       "broken row without label column\n"
                                       "a dull film\t0\n");
        const ImportPreview preview = previewImport(path);
        QVERIFY2(preview.ok(), qPrintable(preview.error));
        QCOMPARE(preview.columns, (QStringList{u"sentence"_s, u"label"_s}));
        QCOMPARE(preview.detected.text, 0);
        QCOMPARE(preview.detected.label, 1);
        QVERIFY2(preview.summary.contains(u"byte-order mark"_s), qPrintable(preview.summary));
        QVERIFY(preview.summary.contains(u"header row"_s));
        QCOMPARE(preview.rows.size(), 3);

        const ImportResult result = readImport(path, preview.detected);
        QVERIFY2(result.ok(), qPrintable(result.error));
        QCOMPARE(result.inputs.size(), 2);
        QCOMPARE(result.inputs[0].text, u"a fine film"_s);
        QCOMPARE(result.inputs[0].expectedLabel, u"1"_s);
        QCOMPARE(result.inputs[0].line, 2);
        QCOMPARE(result.inputs[1].line, 4);
        QCOMPARE(result.problems.size(), 1);
        QVERIFY2(result.problems[0].startsWith(u"line 3: "_s), qPrintable(result.problems[0]));
    }

    void importNeedsATextColumn() {
        QTemporaryDir dir;
        const QString path = writeFile(dir, u"data.csv"_s, "a,b\n1,2\n");
        ColumnMapping none;
        QVERIFY(!readImport(path, none).ok());
        const ImportPreview missing = previewImport(dir.filePath(u"nope.tsv"_s));
        QVERIFY(!missing.ok());
        QVERIFY2(missing.error.contains(u"nope.tsv"_s), qPrintable(missing.error));
    }
};

QTEST_GUILESS_MAIN(ItemModelsTest)
#include "tst_itemmodels.moc"
