// SPDX-License-Identifier: MIT
#include "job_queue_model.h"

#include "engine_inbox.h"

#include <QHash>

#include <algorithm>

namespace sida::ui {

JobQueueModel::JobQueueModel(QObject* parent) : QAbstractTableModel(parent) {}

int JobQueueModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_jobs.size());
}

int JobQueueModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant JobQueueModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
    case JobColumn:
        return QStringLiteral("Job");
    case SourceColumn:
        return QStringLiteral("Source");
    case ProgressColumn:
        return QStringLiteral("Progress");
    case StateColumn:
        return QStringLiteral("State");
    }
    return {};
}

QString JobQueueModel::stateText(const Job& job) const {
    QString text;
    switch (job.state) {
    case State::Queued:
        text = QStringLiteral("queued");
        break;
    case State::Running:
        text = QStringLiteral("running");
        break;
    case State::Cancelling:
        text = QStringLiteral("cancelling");
        break;
    case State::Finished:
        text = QStringLiteral("finished");
        break;
    case State::Cancelled:
        text = QStringLiteral("cancelled");
        break;
    case State::Failed:
        return QStringLiteral("failed: ") + job.error;
    }
    QStringList notes;
    if (job.failed > 0) notes << QStringLiteral("%1 errors").arg(job.failed);
    if (job.cancelled > 0 && job.state != State::Cancelled)
        notes << QStringLiteral("%1 cancelled").arg(job.cancelled);
    if (!notes.isEmpty()) text += QStringLiteral(" (") + notes.join(u", ") + u')';
    return text;
}

QVariant JobQueueModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount()) return {};
    const Job& job = m_jobs[static_cast<size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case JobColumn:
            return static_cast<quint64>(EngineInbox::engineJobId(job.jobId)); // the pipeline's own number
        case SourceColumn:
            return job.source;
        case ProgressColumn:
            return QStringLiteral("%1 / %2").arg(job.done).arg(job.total);
        case StateColumn:
            return stateText(job);
        }
        return {};
    case ProgressRole:
        return job.progress();
    case JobIdRole:
        return job.jobId;
    case ActiveRole:
        return job.isActive();
    case Qt::ToolTipRole:
        return QStringLiteral("Job %1: %2 of %3 inputs answered, %4")
            .arg(job.jobId)
            .arg(job.done)
            .arg(job.total)
            .arg(stateText(job));
    }
    return {};
}

void JobQueueModel::addJob(quint64 jobId, const QString& source, int requests) {
    const int row = rowCount();
    beginInsertRows({}, row, row);
    Job job;
    job.jobId = jobId;
    job.source = source;
    job.total = requests;
    job.state = requests == 0 ? State::Finished : State::Queued;
    m_jobs.push_back(job);
    endInsertRows();
}

int JobQueueModel::rowOfJob(quint64 jobId) const {
    for (size_t i = 0; i < m_jobs.size(); ++i)
        if (m_jobs[i].jobId == jobId) return static_cast<int>(i);
    return -1;
}

void JobQueueModel::recordResults(const QList<RequestResult>& results) {
    // Results come in runs of the same job; count them per job first, then touch each row once.
    QHash<quint64, Job> counts;
    for (const RequestResult& r : results) {
        Job& c = counts[r.jobId];
        ++c.done;
        if (r.cancelled)
            ++c.cancelled;
        else if (!r.classification.ok())
            ++c.failed;
    }
    for (auto it = counts.cbegin(); it != counts.cend(); ++it) {
        const int row = rowOfJob(it.key());
        if (row < 0) continue;
        Job& job = m_jobs[static_cast<size_t>(row)];
        if (!job.isActive()) continue;
        job.done = std::min(job.total, job.done + it->done);
        job.failed += it->failed;
        job.cancelled += it->cancelled;
        if (job.done >= job.total) {
            job.state =
                job.cancelled > 0 && job.state == State::Cancelling ? State::Cancelled : State::Finished;
            if (job.cancelled == job.total) job.state = State::Cancelled;
        } else if (job.state == State::Queued) {
            job.state = State::Running;
        }
        emitRowChanged(row);
        if (!job.isActive()) Q_EMIT jobFinished(job.jobId);
    }
}

void JobQueueModel::markCancelling(quint64 jobId) {
    const int row = rowOfJob(jobId);
    if (row < 0 || !m_jobs[static_cast<size_t>(row)].isActive()) return;
    m_jobs[static_cast<size_t>(row)].state = State::Cancelling;
    emitRowChanged(row);
}

void JobQueueModel::failActive(const QString& error) {
    for (size_t i = 0; i < m_jobs.size(); ++i) {
        if (!m_jobs[i].isActive()) continue;
        m_jobs[i].state = State::Failed;
        m_jobs[i].error = error;
        emitRowChanged(static_cast<int>(i));
        Q_EMIT jobFinished(m_jobs[i].jobId);
    }
}

void JobQueueModel::clearFinished() {
    beginResetModel();
    std::erase_if(m_jobs, [](const Job& job) { return !job.isActive(); });
    endResetModel();
}

int JobQueueModel::activeCount() const {
    return static_cast<int>(
        std::count_if(m_jobs.begin(), m_jobs.end(), [](const Job& j) { return j.isActive(); }));
}

QList<quint64> JobQueueModel::activeJobIds() const {
    QList<quint64> ids;
    for (const Job& job : m_jobs)
        if (job.isActive()) ids << job.jobId;
    return ids;
}

void JobQueueModel::emitRowChanged(int row) {
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

} // namespace sida::ui
