// SPDX-License-Identifier: MIT
// The job queue: one row per submission (typed lines, an imported file), with its progress and state.
#pragma once

#include "engine_types.h"

#include <QAbstractTableModel>
#include <QList>
#include <QString>

#include <vector>

namespace sida::ui {

class JobQueueModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { JobColumn, SourceColumn, ProgressColumn, StateColumn, ColumnCount };
    enum Role { ProgressRole = Qt::UserRole + 1, JobIdRole, ActiveRole };
    enum class State { Queued, Running, Cancelling, Finished, Cancelled, Failed };

    struct Job {
        quint64 jobId = 0;
        QString source;
        int total = 0;
        int done = 0; ///< results of any kind
        int failed = 0;
        int cancelled = 0;
        State state = State::Queued;
        QString error;
        bool isActive() const {
            return state == State::Queued || state == State::Running || state == State::Cancelling;
        }
        double progress() const { return total == 0 ? 1.0 : static_cast<double>(done) / total; }
    };

    explicit JobQueueModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void addJob(quint64 jobId, const QString& source, int requests);
    /// Counts results towards their jobs; a job is finished when every request has one.
    void recordResults(const QList<RequestResult>& results);
    /// The user asked to cancel; the job stays active until its last result arrives.
    void markCancelling(quint64 jobId);
    /// The job will never get (more) results: every active job gets the error.
    void failActive(const QString& error);
    void clearFinished();

    int rowOfJob(quint64 jobId) const;
    const Job& job(int row) const { return m_jobs.at(static_cast<size_t>(row)); }
    int activeCount() const;
    QList<quint64> activeJobIds() const;

Q_SIGNALS:
    /// A job got its last result.
    void jobFinished(quint64 jobId);

private:
    void emitRowChanged(int row);
    QString stateText(const Job& job) const;

    std::vector<Job> m_jobs;
};

} // namespace sida::ui
