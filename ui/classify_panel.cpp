// SPDX-License-Identifier: MIT
#include "classify_panel.h"

#include "engine_controller.h"
#include "import_dialog.h"
#include "progress_delegate.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QIcon>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSaveFile>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace sida::ui {

namespace {

QToolButton* buttonFor(QAction* action, QWidget* parent) {
    auto* button = new QToolButton(parent);
    button->setDefaultAction(action);
    button->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    return button;
}

QString describeInputs(const QList<InputText>& inputs) {
    if (inputs.size() == 1) {
        const QString text = inputs.front().text;
        return text.size() > 40 ? text.left(37) + QStringLiteral("…") : text;
    }
    return QObject::tr("%1 typed inputs").arg(inputs.size());
}

} // namespace

ClassifyPanel::ClassifyPanel(EngineController* controller, QWidget* parent)
    : QWidget(parent), m_controller(controller), m_results(new ResultsModel(this)),
      m_jobs(new JobQueueModel(this)), m_proxy(new QSortFilterProxyModel(this)) {
    m_proxy->setSourceModel(m_results);
    m_proxy->setSortRole(ResultsModel::SortRole);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_proxy->setFilterKeyColumn(-1);

    m_input = new QPlainTextEdit(this);
    m_input->setPlaceholderText(tr("One input per line; a tab separates the two sentences of a pair.\n"
                                   "Ctrl+Return classifies."));
    m_input->setTabChangesFocus(false);
    m_input->setToolTip(tr("One input per line; a tab separates a sentence pair"));

    m_jobTable = new QTableView(this);
    m_jobTable->setModel(m_jobs);
    m_jobTable->setItemDelegateForColumn(JobQueueModel::ProgressColumn,
                                         new ProgressDelegate(JobQueueModel::ProgressRole, m_jobTable));
    m_jobTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_jobTable->verticalHeader()->hide();
    m_jobTable->horizontalHeader()->setSectionResizeMode(JobQueueModel::SourceColumn, QHeaderView::Stretch);
    m_jobTable->horizontalHeader()->setSectionResizeMode(JobQueueModel::ProgressColumn, QHeaderView::Fixed);
    m_jobTable->setColumnWidth(JobQueueModel::ProgressColumn, 150);
    m_jobTable->setToolTip(
        tr("Submitted jobs; select one and press Cancel job to stop what has not started"));

    m_resultsTable = new QTableView(this);
    m_resultsTable->setModel(m_proxy);
    m_resultsTable->setSortingEnabled(true);
    m_resultsTable->sortByColumn(ResultsModel::IndexColumn, Qt::AscendingOrder);
    m_resultsTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_resultsTable->setAlternatingRowColors(true);
    // Fixed row heights and column widths: sizing to contents would measure up to a thousand rows
    // whenever results arrive, which is what kept the event loop busy during long jobs.
    m_resultsTable->verticalHeader()->hide();
    m_resultsTable->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_resultsTable->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    QHeaderView* columns = m_resultsTable->horizontalHeader();
    columns->setSectionResizeMode(QHeaderView::Interactive);
    columns->setSectionResizeMode(ResultsModel::TextColumn, QHeaderView::Stretch);
    const auto widthOf = [this](const QString& sample) {
        return fontMetrics().horizontalAdvance(sample) + 18;
    };
    m_resultsTable->setColumnWidth(ResultsModel::IndexColumn, widthOf(QStringLiteral("00000")));
    m_resultsTable->setColumnWidth(ResultsModel::LabelColumn, widthOf(QStringLiteral("negative")));
    m_resultsTable->setColumnWidth(ResultsModel::ConfidenceColumn, widthOf(QStringLiteral("100.0%")));
    m_resultsTable->setColumnWidth(ResultsModel::LatencyColumn, widthOf(QStringLiteral("9999.9 ms")));
    m_resultsTable->setColumnWidth(ResultsModel::ExpertsColumn, widthOf(QStringLiteral("Experts")));
    m_resultsTable->setColumnWidth(ResultsModel::HitsColumn, widthOf(QStringLiteral("Hits0")));
    m_resultsTable->setColumnWidth(ResultsModel::MissesColumn, widthOf(QStringLiteral("Misses")));
    // Errors can be long: the status column shows the whole message on hover.
    m_resultsTable->setColumnWidth(ResultsModel::StatusColumn, widthOf(QStringLiteral("cancelled")));
    m_resultsTable->setToolTip(tr("Select a row to show its sentence's hash table"));
    connect(m_resultsTable->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) { onCurrentRowChanged(current); });

    m_filter = new QLineEdit(this);
    m_filter->setPlaceholderText(tr("Filter results (Ctrl+F)"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    m_counts = new QLabel(this);

    createActions();

    auto* inputBox = new QWidget(this);
    auto* inputLayout = new QVBoxLayout(inputBox);
    inputLayout->setContentsMargins(0, 0, 0, 0);
    inputLayout->addWidget(m_input, 1);
    auto* inputButtons = new QHBoxLayout;
    inputButtons->addWidget(buttonFor(m_classify, this));
    inputButtons->addWidget(buttonFor(m_import, this));
    inputButtons->addStretch(1);
    inputLayout->addLayout(inputButtons);

    auto* jobBox = new QWidget(this);
    auto* jobLayout = new QVBoxLayout(jobBox);
    jobLayout->setContentsMargins(0, 0, 0, 0);
    auto* jobHeader = new QHBoxLayout;
    jobHeader->addWidget(new QLabel(tr("<b>Jobs</b>"), this), 1);
    jobHeader->addWidget(buttonFor(m_cancelJob, this));
    jobHeader->addWidget(buttonFor(m_cancelAll, this));
    jobLayout->addLayout(jobHeader);
    jobLayout->addWidget(m_jobTable, 1);

    auto* resultBox = new QWidget(this);
    auto* resultLayout = new QVBoxLayout(resultBox);
    resultLayout->setContentsMargins(0, 0, 0, 0);
    auto* resultHeader = new QHBoxLayout;
    resultHeader->addWidget(new QLabel(tr("<b>Results</b>"), this));
    resultHeader->addWidget(m_filter, 1);
    resultLayout->addLayout(resultHeader);
    resultLayout->addWidget(m_resultsTable, 1);
    auto* resultButtons = new QHBoxLayout;
    resultButtons->addWidget(m_counts, 1);
    for (QAction* action : {m_copy, m_exportCsv, m_exportJson, m_clear})
        resultButtons->addWidget(buttonFor(action, this));
    resultLayout->addLayout(resultButtons);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(inputBox);
    split->addWidget(jobBox);
    split->addWidget(resultBox);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 1);
    split->setStretchFactor(2, 5);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(split);

    connect(controller, &EngineController::resultsArrived, this, &ClassifyPanel::onResults);
    connect(controller, &EngineController::optionsChanged, this, &ClassifyPanel::updateActions);
    connect(controller, &EngineController::modelLoaded, this, &ClassifyPanel::updateActions);
    connect(m_jobs, &JobQueueModel::dataChanged, this, &ClassifyPanel::updateActions);
    connect(m_jobs, &JobQueueModel::rowsInserted, this, &ClassifyPanel::updateActions);
    connect(m_results, &ResultsModel::dataChanged, this, &ClassifyPanel::updateActions);
    connect(m_results, &ResultsModel::rowsInserted, this, &ClassifyPanel::updateActions);
    connect(m_results, &ResultsModel::modelReset, this, &ClassifyPanel::updateActions);
    updateActions();
}

void ClassifyPanel::createActions() {
    m_classify = new QAction(QIcon(QStringLiteral(":/icons/classify.svg")), tr("&Classify"), this);
    m_classify->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    m_classify->setToolTip(tr("Classify every line of the input box (Ctrl+Return)"));
    connect(m_classify, &QAction::triggered, this, &ClassifyPanel::classifyTextBox);

    m_import = new QAction(QIcon(QStringLiteral(":/icons/import.svg")), tr("&Import data…"), this);
    m_import->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_I));
    m_import->setToolTip(tr("Classify the rows of a TSV, CSV or TXT file (Ctrl+I)"));
    connect(m_import, &QAction::triggered, this, &ClassifyPanel::chooseImport);

    m_cancelJob = new QAction(QIcon(QStringLiteral(":/icons/cancel.svg")), tr("Cancel &job"), this);
    m_cancelJob->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    m_cancelJob->setToolTip(tr("Cancel the selected job, or the newest running one (Ctrl+.)"));
    connect(m_cancelJob, &QAction::triggered, this, &ClassifyPanel::cancelSelectedJob);

    m_cancelAll = new QAction(tr("Cancel &all"), this);
    m_cancelAll->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Period));
    m_cancelAll->setToolTip(tr("Cancel every queued input (Ctrl+Shift+.)"));
    connect(m_cancelAll, &QAction::triggered, this, &ClassifyPanel::cancelAllJobs);

    m_copy = new QAction(QIcon(QStringLiteral(":/icons/copy.svg")), tr("&Copy results"), this);
    m_copy->setShortcut(QKeySequence::Copy);
    m_copy->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_resultsTable->addAction(m_copy);
    m_copy->setToolTip(tr("Copy the selected results (all when none is selected) as tab-separated text"));
    connect(m_copy, &QAction::triggered, this, &ClassifyPanel::copySelection);

    m_exportCsv = new QAction(QIcon(QStringLiteral(":/icons/export.svg")), tr("Export &CSV…"), this);
    m_exportCsv->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    m_exportCsv->setToolTip(tr("Save the results as CSV (Ctrl+E)"));
    connect(m_exportCsv, &QAction::triggered, this, [this] { chooseExport(false); });

    m_exportJson = new QAction(tr("Export &JSON…"), this);
    m_exportJson->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    m_exportJson->setToolTip(tr("Save the results as JSON (Ctrl+Shift+E)"));
    connect(m_exportJson, &QAction::triggered, this, [this] { chooseExport(true); });

    m_clear = new QAction(tr("C&lear finished"), this);
    m_clear->setToolTip(tr("Remove results that have their answer, and finished jobs"));
    connect(m_clear, &QAction::triggered, this, [this] {
        m_results->clearFinished();
        m_jobs->clearFinished();
    });

    m_find = new QAction(tr("&Find in results"), this);
    m_find->setShortcut(QKeySequence::Find);
    m_find->setToolTip(tr("Filter the results table (Ctrl+F)"));
    connect(m_find, &QAction::triggered, this, [this] {
        m_filter->setFocus();
        m_filter->selectAll();
    });
    addActions({m_classify, m_import, m_cancelJob, m_cancelAll, m_exportCsv, m_exportJson, m_find});
}

void ClassifyPanel::updateActions() {
    const bool serving = m_controller->isServing();
    const bool free = m_busyReason.isEmpty();
    m_classify->setEnabled(serving && free);
    m_import->setEnabled(serving && free);
    const QString why = !serving ? tr("Load a model first") : m_busyReason;
    m_classify->setStatusTip(why);
    m_cancelJob->setEnabled(m_jobs->activeCount() > 0);
    m_cancelAll->setEnabled(m_jobs->activeCount() > 0);
    const bool any = m_results->rowCount() > 0;
    for (QAction* action : {m_copy, m_exportCsv, m_exportJson, m_clear}) action->setEnabled(any);
    m_counts->setText(tr("%1 rows · %2 queued · %3 errors")
                          .arg(m_results->rowCount())
                          .arg(m_results->pendingCount())
                          .arg(m_results->failedCount()));
}

void ClassifyPanel::setBusyReason(const QString& reason) {
    m_busyReason = reason;
    updateActions();
}

QList<InputText> ClassifyPanel::textInputs() const { return parseInputLines(m_input->toPlainText()); }

void ClassifyPanel::setInputText(const QString& text) { m_input->setPlainText(text); }

quint64 ClassifyPanel::submitInputs(const QList<InputText>& inputs, const QString& source) {
    if (inputs.isEmpty()) return 0;
    std::vector<Request> requests = m_results->addPending(inputs);
    const std::vector<Request> copy = requests; // the engine takes the requests; rows need the tags
    QString error;
    const quint64 job = m_controller->submit(std::move(requests), &error);
    if (job == 0) {
        m_results->failRequests(copy, error);
        Q_EMIT message(tr("Could not classify: %1").arg(error));
        return 0;
    }
    m_results->assignJob(copy, job);
    m_jobs->addJob(job, source, static_cast<int>(copy.size()));
    return job;
}

void ClassifyPanel::classifyTextBox() {
    const QList<InputText> inputs = textInputs();
    if (inputs.isEmpty()) {
        Q_EMIT message(tr("Nothing to classify: type one input per line."));
        return;
    }
    submitInputs(inputs, describeInputs(inputs));
}

void ClassifyPanel::chooseImport() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Import data"), {},
                                                      tr("Data files (*.tsv *.csv *.txt);;All files (*)"));
    if (!path.isEmpty()) importFile(path);
}

void ClassifyPanel::importFile(const QString& path) {
    ImportDialog dialog(path, this);
    if (dialog.exec() != QDialog::Accepted || dialog.result().inputs.isEmpty()) return;
    const ImportResult& data = dialog.result();
    const QString name = QFileInfo(path).fileName();
    submitInputs(data.inputs, data.problems.isEmpty()
                                  ? name
                                  : tr("%1 (%2 rows skipped)").arg(name).arg(data.problems.size()));
}

void ClassifyPanel::onResults(const QList<RequestResult>& results) {
    m_results->applyResults(results);
    m_jobs->recordResults(results);
}

void ClassifyPanel::cancelSelectedJob() {
    quint64 job = 0;
    const QModelIndex current = m_jobTable->currentIndex();
    if (current.isValid() && m_jobs->job(current.row()).isActive()) job = m_jobs->job(current.row()).jobId;
    if (job == 0 && !m_jobs->activeJobIds().isEmpty()) job = m_jobs->activeJobIds().back();
    if (job == 0) return;
    m_jobs->markCancelling(job);
    m_controller->cancelJob(job);
}

void ClassifyPanel::cancelAllJobs() {
    for (quint64 job : m_jobs->activeJobIds()) {
        m_jobs->markCancelling(job);
        m_controller->cancelJob(job);
    }
}

QList<int> ClassifyPanel::selectedSourceRows() const {
    QList<int> rows;
    for (const QModelIndex& index : m_resultsTable->selectionModel()->selectedRows())
        rows << m_proxy->mapToSource(index).row();
    std::sort(rows.begin(), rows.end());
    return rows;
}

void ClassifyPanel::copySelection() {
    QApplication::clipboard()->setText(m_results->toTsv(selectedSourceRows()));
}

void ClassifyPanel::chooseExport(bool json) {
    const QString path =
        QFileDialog::getSaveFileName(this, json ? tr("Export results as JSON") : tr("Export results as CSV"),
                                     json ? QStringLiteral("results.json") : QStringLiteral("results.csv"),
                                     json ? tr("JSON (*.json)") : tr("CSV (*.csv)"));
    if (!path.isEmpty() && exportResults(path, json))
        Q_EMIT message(tr("Saved %1 results to %2").arg(m_results->rowCount()).arg(path));
}

bool ClassifyPanel::exportResults(const QString& path, bool json) {
    QSaveFile file(path);
    const QByteArray bytes = json ? m_results->toJson() : m_results->toCsv().toUtf8();
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit()) {
        Q_EMIT message(tr("Could not save %1: %2").arg(path, file.errorString()));
        return false;
    }
    return true;
}

void ClassifyPanel::onCurrentRowChanged(const QModelIndex& current) {
    if (!current.isValid()) return;
    const QModelIndex source = m_proxy->mapToSource(current);
    const quint64 batch = source.data(ResultsModel::BatchIndexRole).toULongLong();
    if (batch != 0) Q_EMIT rowSelected(batch, source.data(ResultsModel::RequestIdRole).toULongLong());
}

} // namespace sida::ui
