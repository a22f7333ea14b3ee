// SPDX-License-Identifier: MIT
// The results table: one row per submitted input, added as soon as it is submitted and filled by its
// result or its error, so nothing the user submitted disappears without an answer in its row.
#pragma once

#include "engine_types.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>
#include <QString>

#include <array>
#include <optional>
#include <vector>

namespace sida::ui {

/// One input as the user gave it (typed or imported).
struct InputText {
    QString text;
    std::optional<QString> pair;
    QString expectedLabel; ///< from an imported file's label column, if any
    qint64 line = 0;       ///< 1-based line in its source, 0 when typed
};

/// One input per line; a tab separates the two sentences of a pair. Blank lines are skipped.
QList<InputText> parseInputLines(const QString& text);

class ResultsModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        IndexColumn,
        TextColumn,
        LabelColumn,
        ConfidenceColumn,
        LatencyColumn,
        ExpertsColumn,
        HitsColumn,
        MissesColumn,
        StatusColumn,
        ColumnCount
    };
    enum Role { SortRole = Qt::UserRole + 1, RowIdRole, StateRole, BatchIndexRole, RequestIdRole, JobIdRole };
    enum class State { Pending, Done, Failed, Cancelled };

    struct Row {
        quint64 rowId = 0;
        quint64 jobId = 0;
        InputText input;
        State state = State::Pending;
        QString label;
        double confidence = 0.0;
        double latencyMs = 0.0;
        qint64 tokens = 0;
        qint64 expertsActivated = 0;
        qint64 predictorHits = 0;
        qint64 predictorMisses = 0;
        QString error;
        quint64 batchIndex = 0;
        quint64 requestId = 0;
        bool hasPredictorCounts() const { return predictorHits + predictorMisses > 0; }
    };

    explicit ResultsModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    /// Adds a pending row per input and returns the engine requests, tagged so their results find
    /// these rows again.
    std::vector<Request> addPending(const QList<InputText>& inputs);
    /// Records which job the requests went into.
    void assignJob(const std::vector<Request>& requests, quint64 jobId);
    /// The requests never reached the engine: their rows get the error.
    void failRequests(const std::vector<Request>& requests, const QString& error);
    /// Fills the rows of results; results for tags this model did not hand out are ignored.
    /// Returns how many rows were filled.
    int applyResults(const QList<RequestResult>& results);
    /// Every row still pending gets the error (the engine went away without answering them).
    int failPending(const QString& error);
    /// Removes every row that has its result or error.
    void clearFinished();

    const Row& row(int index) const { return m_rows.at(static_cast<size_t>(index)); }
    /// Rows in a state; kept as counts, since the status bar asks every frame.
    int countIn(State state) const;
    int pendingCount() const { return countIn(State::Pending); }
    int failedCount() const { return countIn(State::Failed); }

    /// The rows (all when empty) as CSV (RFC 4180), JSON (an array of objects) or TSV for the clipboard.
    QString toCsv(const QList<int>& rows = {}) const;
    QByteArray toJson(const QList<int>& rows = {}) const;
    QString toTsv(const QList<int>& rows = {}) const;

private:
    static QString tagFor(quint64 rowId);
    int rowOfTag(const std::string& tag) const;
    QList<int> rowsOrAll(const QList<int>& rows) const;
    void emitRowsChanged(int first, int last);
    QVariant display(const Row& row, int column) const;
    QVariant sortKey(const Row& row, int column) const;
    void setState(Row& row, State state);

    std::vector<Row> m_rows;
    QHash<quint64, int> m_rowOfId;
    quint64 m_nextRowId = 1;
    std::array<int, 4> m_stateCounts{}; ///< rows per State
};

QString stateName(ResultsModel::State state);

} // namespace sida::ui
