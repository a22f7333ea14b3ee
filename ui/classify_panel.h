// SPDX-License-Identifier: MIT
// The classify panel: the input box (one input per line, a tab separates a sentence pair), Classify and
// Import, the job queue with per-job progress and cancel, and the results table with sorting,
// filtering, copy and export.
#pragma once

#include "job_queue_model.h"
#include "results_model.h"

#include <QWidget>

class QAction;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSortFilterProxyModel;
class QTableView;

namespace sida::ui {

class EngineController;

class ClassifyPanel : public QWidget {
    Q_OBJECT

public:
    ClassifyPanel(EngineController* controller, QWidget* parent = nullptr);

    /// Adds a row per input and submits them as one job. Every input gets a row, even when the
    /// engine refuses the job (the row then holds the reason). Returns the job id, or 0.
    quint64 submitInputs(const QList<InputText>& inputs, const QString& source);
    /// The inputs in the text box.
    QList<InputText> textInputs() const;
    void setInputText(const QString& text);
    /// Opens the import dialog for a file and submits what the user accepts.
    void importFile(const QString& path);
    bool exportResults(const QString& path, bool json);
    /// While set, Classify and Import are disabled and say why (a comparison is running).
    void setBusyReason(const QString& reason);

    ResultsModel* results() const { return m_results; }
    JobQueueModel* jobs() const { return m_jobs; }
    QSortFilterProxyModel* resultsProxy() const { return m_proxy; }
    QTableView* resultsTable() const { return m_resultsTable; }
    QTableView* jobTable() const { return m_jobTable; }

    QAction* classifyAction() const { return m_classify; }
    QAction* importAction() const { return m_import; }
    QAction* cancelJobAction() const { return m_cancelJob; }
    QAction* cancelAllAction() const { return m_cancelAll; }
    QAction* copyAction() const { return m_copy; }
    QAction* exportCsvAction() const { return m_exportCsv; }
    QAction* exportJsonAction() const { return m_exportJson; }
    QAction* clearAction() const { return m_clear; }
    QAction* findAction() const { return m_find; }

Q_SIGNALS:
    /// A results row with a trace was selected: pin the hash table to it.
    void rowSelected(quint64 batchIndex, quint64 requestId);
    void message(const QString& text);

private:
    void createActions();
    void classifyTextBox();
    void chooseImport();
    void cancelSelectedJob();
    void cancelAllJobs();
    void copySelection();
    void chooseExport(bool json);
    void onResults(const QList<RequestResult>& results);
    void onCurrentRowChanged(const QModelIndex& current);
    void updateActions();
    QList<int> selectedSourceRows() const;

    EngineController* m_controller;
    ResultsModel* m_results;
    JobQueueModel* m_jobs;
    QSortFilterProxyModel* m_proxy;
    QPlainTextEdit* m_input;
    QTableView* m_jobTable;
    QTableView* m_resultsTable;
    QLineEdit* m_filter;
    QLabel* m_counts;
    QString m_busyReason;
    QAction* m_classify = nullptr;
    QAction* m_import = nullptr;
    QAction* m_cancelJob = nullptr;
    QAction* m_cancelAll = nullptr;
    QAction* m_copy = nullptr;
    QAction* m_exportCsv = nullptr;
    QAction* m_exportJson = nullptr;
    QAction* m_clear = nullptr;
    QAction* m_find = nullptr;
};

} // namespace sida::ui
