// SPDX-License-Identifier: MIT
#include "results_model.h"

#include <QBrush>
#include <QColor>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace sida::ui {

namespace {

constexpr char kTagPrefix[] = "row:";

QString csvField(const QString& field) {
    if (!field.contains(u',') && !field.contains(u'"') && !field.contains(u'\n') && !field.contains(u'\r'))
        return field;
    QString quoted = field;
    quoted.replace(u"\""_s, u"\"\""_s);
    return u'"' + quoted + u'"';
}

QString tsvField(QString field) {
    field.replace(u'\t', u' ');
    field.replace(u'\n', u' ');
    return field;
}

QString displayText(const InputText& input) {
    return input.pair ? input.text + QStringLiteral("  ⇥  ") + *input.pair : input.text;
}

} // namespace

QList<InputText> parseInputLines(const QString& text) {
    QList<InputText> inputs;
    qint64 line = 0;
    for (QString l : text.split(u'\n')) {
        ++line;
        if (l.endsWith(u'\r')) l.chop(1);
        if (l.trimmed().isEmpty()) continue;
        InputText input;
        input.line = line;
        const qsizetype tab = l.indexOf(u'\t');
        if (tab < 0) {
            input.text = l;
        } else {
            input.text = l.left(tab);
            input.pair = l.mid(tab + 1);
        }
        inputs << input;
    }
    return inputs;
}

QString stateName(ResultsModel::State state) {
    switch (state) {
    case ResultsModel::State::Pending:
        return QStringLiteral("queued");
    case ResultsModel::State::Done:
        return QStringLiteral("done");
    case ResultsModel::State::Failed:
        return QStringLiteral("error");
    case ResultsModel::State::Cancelled:
        return QStringLiteral("cancelled");
    }
    return {};
}

ResultsModel::ResultsModel(QObject* parent) : QAbstractTableModel(parent) {}

int ResultsModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int ResultsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ResultsModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case IndexColumn:
            return QStringLiteral("#");
        case TextColumn:
            return QStringLiteral("Text");
        case LabelColumn:
            return QStringLiteral("Label");
        case ConfidenceColumn:
            return QStringLiteral("Conf.");
        case LatencyColumn:
            return QStringLiteral("Latency");
        case ExpertsColumn:
            return QStringLiteral("Experts");
        case HitsColumn:
            return QStringLiteral("Hits");
        case MissesColumn:
            return QStringLiteral("Misses");
        case StatusColumn:
            return QStringLiteral("Status");
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case ConfidenceColumn:
            return QStringLiteral("The probability of the label");
        case LatencyColumn:
            return QStringLiteral("From submission to result, queueing included");
        case ExpertsColumn:
            return QStringLiteral("Distinct (layer, expert) pairs the input's tokens used");
        case HitsColumn:
            return QStringLiteral("Tokens x layers where the predictor's top-1 equalled the router's "
                                  "choice (needs the shadow router)");
        case MissesColumn:
            return QStringLiteral("Tokens x layers where the predictor and the router disagreed");
        }
    }
    return {};
}

QVariant ResultsModel::display(const Row& row, int column) const {
    const bool done = row.state == State::Done;
    switch (column) {
    case IndexColumn:
        return row.rowId;
    case TextColumn:
        return displayText(row.input);
    case LabelColumn:
        return done ? QVariant(row.label) : QVariant();
    case ConfidenceColumn:
        return done ? QVariant(QString::number(row.confidence * 100.0, 'f', 1) + u'%') : QVariant();
    case LatencyColumn:
        return done ? QVariant(QString::number(row.latencyMs, 'f', 1) + QStringLiteral(" ms")) : QVariant();
    case ExpertsColumn:
        return done ? QVariant(row.expertsActivated) : QVariant();
    case HitsColumn:
        return done ? (row.hasPredictorCounts() ? QVariant(row.predictorHits) : QVariant(QStringLiteral("–")))
                    : QVariant();
    case MissesColumn:
        return done ? (row.hasPredictorCounts() ? QVariant(row.predictorMisses)
                                                : QVariant(QStringLiteral("–")))
                    : QVariant();
    case StatusColumn:
        return row.state == State::Failed ? row.error : stateName(row.state);
    }
    return {};
}

QVariant ResultsModel::sortKey(const Row& row, int column) const {
    switch (column) {
    case IndexColumn:
        return row.rowId;
    case TextColumn:
        return displayText(row.input);
    case LabelColumn:
        return row.label;
    case ConfidenceColumn:
        return row.confidence;
    case LatencyColumn:
        return row.latencyMs;
    case ExpertsColumn:
        return row.expertsActivated;
    case HitsColumn:
        return row.predictorHits;
    case MissesColumn:
        return row.predictorMisses;
    case StatusColumn:
        return static_cast<int>(row.state);
    }
    return {};
}

QVariant ResultsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount()) return {};
    const Row& r = m_rows[static_cast<size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        return display(r, index.column());
    case SortRole:
        return sortKey(r, index.column());
    case RowIdRole:
        return r.rowId;
    case StateRole:
        return static_cast<int>(r.state);
    case BatchIndexRole:
        return r.batchIndex;
    case RequestIdRole:
        return r.requestId;
    case JobIdRole:
        return r.jobId;
    case Qt::TextAlignmentRole:
        if (index.column() == TextColumn || index.column() == StatusColumn || index.column() == LabelColumn)
            return QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter);
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ForegroundRole:
        // A mid-tone red reads on dark and light backgrounds alike.
        if (r.state == State::Failed) return QBrush(QColor(0xE0, 0x50, 0x3C));
        if (r.state != State::Done && index.column() == StatusColumn) return QBrush(QColor(0x88, 0x8E, 0x96));
        return {};
    case Qt::ToolTipRole: {
        if (index.column() == StatusColumn && r.state == State::Failed) return r.error;
        if (index.column() == TextColumn) {
            QString tip = displayText(r.input).toHtmlEscaped();
            if (r.input.line > 0) tip += QStringLiteral("<br>line %1 of its source").arg(r.input.line);
            if (!r.input.expectedLabel.isEmpty())
                tip += QStringLiteral("<br>expected: %1").arg(r.input.expectedLabel);
            if (r.tokens > 0)
                tip += QStringLiteral("<br>%1 tokens, batch %2").arg(r.tokens).arg(r.batchIndex);
            return tip;
        }
        return {};
    }
    }
    return {};
}

QString ResultsModel::tagFor(quint64 rowId) {
    return QString::fromLatin1(kTagPrefix) + QString::number(rowId);
}

int ResultsModel::rowOfTag(const std::string& tag) const {
    if (tag.rfind(kTagPrefix, 0) != 0) return -1;
    bool ok = false;
    const quint64 rowId = QString::fromStdString(tag.substr(sizeof(kTagPrefix) - 1)).toULongLong(&ok);
    return ok ? m_rowOfId.value(rowId, -1) : -1;
}

std::vector<Request> ResultsModel::addPending(const QList<InputText>& inputs) {
    std::vector<Request> requests;
    if (inputs.isEmpty()) return requests;
    const int first = rowCount();
    beginInsertRows({}, first, first + static_cast<int>(inputs.size()) - 1);
    for (const InputText& input : inputs) {
        Row row;
        row.rowId = m_nextRowId++;
        row.input = input;
        m_rowOfId.insert(row.rowId, static_cast<int>(m_rows.size()));
        Request request;
        request.text = input.text.toStdString();
        if (input.pair) request.pair = input.pair->toStdString();
        request.tag = tagFor(row.rowId).toStdString();
        requests.push_back(std::move(request));
        m_rows.push_back(std::move(row));
        ++m_stateCounts[static_cast<size_t>(State::Pending)];
    }
    endInsertRows();
    return requests;
}

void ResultsModel::assignJob(const std::vector<Request>& requests, quint64 jobId) {
    for (const Request& request : requests)
        if (const int r = rowOfTag(request.tag); r >= 0) m_rows[static_cast<size_t>(r)].jobId = jobId;
}

void ResultsModel::failRequests(const std::vector<Request>& requests, const QString& error) {
    for (const Request& request : requests) {
        const int r = rowOfTag(request.tag);
        if (r < 0 || m_rows[static_cast<size_t>(r)].state != State::Pending) continue;
        setState(m_rows[static_cast<size_t>(r)], State::Failed);
        m_rows[static_cast<size_t>(r)].error = error;
        emitRowsChanged(r, r);
    }
}

int ResultsModel::applyResults(const QList<RequestResult>& results) {
    int first = rowCount();
    int last = -1;
    int filled = 0;
    for (const RequestResult& result : results) {
        const int r = rowOfTag(result.tag);
        if (r < 0) continue;
        Row& row = m_rows[static_cast<size_t>(r)];
        const Classification& c = result.classification;
        row.jobId = result.jobId;
        row.requestId = result.requestId;
        row.batchIndex = result.batchIndex;
        row.latencyMs = result.latencyMs;
        row.expertsActivated = result.expertsActivated;
        row.predictorHits = result.predictorHits;
        row.predictorMisses = result.predictorMisses;
        row.tokens = c.tokens;
        if (result.cancelled) {
            setState(row, State::Cancelled);
        } else if (!c.ok()) {
            setState(row, State::Failed);
            row.error = qs(c.error);
        } else {
            setState(row, State::Done);
            row.label = qs(c.labelName);
            row.confidence = c.confidence;
        }
        first = std::min(first, r);
        last = std::max(last, r);
        ++filled;
    }
    if (last >= 0) emitRowsChanged(first, last);
    return filled;
}

int ResultsModel::failPending(const QString& error) {
    int failed = 0;
    for (size_t i = 0; i < m_rows.size(); ++i) {
        if (m_rows[i].state != State::Pending) continue;
        setState(m_rows[i], State::Failed);
        m_rows[i].error = error;
        emitRowsChanged(static_cast<int>(i), static_cast<int>(i));
        ++failed;
    }
    return failed;
}

void ResultsModel::clearFinished() {
    beginResetModel();
    std::erase_if(m_rows, [](const Row& row) { return row.state != State::Pending; });
    m_stateCounts = {};
    m_stateCounts[static_cast<size_t>(State::Pending)] = static_cast<int>(m_rows.size());
    m_rowOfId.clear();
    for (size_t i = 0; i < m_rows.size(); ++i) m_rowOfId.insert(m_rows[i].rowId, static_cast<int>(i));
    endResetModel();
}

int ResultsModel::countIn(State state) const { return m_stateCounts[static_cast<size_t>(state)]; }

void ResultsModel::setState(Row& row, State state) {
    --m_stateCounts[static_cast<size_t>(row.state)];
    ++m_stateCounts[static_cast<size_t>(state)];
    row.state = state;
}

void ResultsModel::emitRowsChanged(int first, int last) {
    // The index and the text never change, so a proxy sorted by them (the default) need not re-sort.
    Q_EMIT dataChanged(index(first, LabelColumn), index(last, ColumnCount - 1));
}

QList<int> ResultsModel::rowsOrAll(const QList<int>& rows) const {
    if (!rows.isEmpty()) return rows;
    QList<int> all;
    for (int i = 0; i < rowCount(); ++i) all << i;
    return all;
}

QString ResultsModel::toCsv(const QList<int>& rows) const {
    QString csv =
        QStringLiteral("index,text,pair,expected,label,confidence,latency_ms,tokens,experts_activated,"
                       "predictor_hits,predictor_misses,status,error\r\n");
    for (int i : rowsOrAll(rows)) {
        const Row& r = row(i);
        const bool done = r.state == State::Done;
        QStringList fields{QString::number(r.rowId),
                           csvField(r.input.text),
                           csvField(r.input.pair.value_or(QString())),
                           csvField(r.input.expectedLabel),
                           csvField(done ? r.label : QString()),
                           done ? QString::number(r.confidence, 'f', 6) : QString(),
                           done ? QString::number(r.latencyMs, 'f', 3) : QString(),
                           done ? QString::number(r.tokens) : QString(),
                           done ? QString::number(r.expertsActivated) : QString(),
                           done && r.hasPredictorCounts() ? QString::number(r.predictorHits) : QString(),
                           done && r.hasPredictorCounts() ? QString::number(r.predictorMisses) : QString(),
                           stateName(r.state),
                           csvField(r.error)};
        csv += fields.join(u',') + QStringLiteral("\r\n");
    }
    return csv;
}

QByteArray ResultsModel::toJson(const QList<int>& rows) const {
    QJsonArray array;
    for (int i : rowsOrAll(rows)) {
        const Row& r = row(i);
        QJsonObject o;
        o[u"index"_s] = static_cast<qint64>(r.rowId);
        o[u"text"_s] = r.input.text;
        if (r.input.pair) o[u"pair"_s] = *r.input.pair;
        if (!r.input.expectedLabel.isEmpty()) o[u"expected"_s] = r.input.expectedLabel;
        o[u"status"_s] = stateName(r.state);
        if (r.state == State::Done) {
            o[u"label"_s] = r.label;
            o[u"confidence"_s] = r.confidence;
            o[u"latency_ms"_s] = r.latencyMs;
            o[u"tokens"_s] = r.tokens;
            o[u"experts_activated"_s] = r.expertsActivated;
            if (r.hasPredictorCounts()) {
                o[u"predictor_hits"_s] = r.predictorHits;
                o[u"predictor_misses"_s] = r.predictorMisses;
            }
        }
        if (!r.error.isEmpty()) o[u"error"_s] = r.error;
        array.append(o);
    }
    return QJsonDocument(array).toJson(QJsonDocument::Indented);
}

QString ResultsModel::toTsv(const QList<int>& rows) const {
    QStringList lines;
    QStringList header;
    for (int c = 0; c < ColumnCount; ++c) header << headerData(c, Qt::Horizontal).toString();
    lines << header.join(u'\t');
    for (int i : rowsOrAll(rows)) {
        QStringList cells;
        for (int c = 0; c < ColumnCount; ++c) cells << tsvField(display(row(i), c).toString());
        lines << cells.join(u'\t');
    }
    return lines.join(u'\n') + u'\n';
}

} // namespace sida::ui
