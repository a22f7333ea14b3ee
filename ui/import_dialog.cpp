// SPDX-License-Identifier: MIT
#include "import_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace sida::ui {

namespace {

constexpr int kPreviewRows = 20;

} // namespace

ImportDialog::ImportDialog(const QString& path, QWidget* parent)
    : QDialog(parent), m_preview(previewImport(path, kPreviewRows)) {
    setWindowTitle(tr("Import %1").arg(QFileInfo(path).fileName()));
    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    m_table = new QTableWidget(this);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_text = columnChoice(m_preview.detected.text, false);
    m_pair = columnChoice(m_preview.detected.pair, true);
    m_label = columnChoice(m_preview.detected.label, true);
    m_text->setToolTip(tr("The column with the text to classify"));
    m_pair->setToolTip(tr("The second sentence of a pair (MRPC, RTE), if any"));
    m_label->setToolTip(tr("The expected label, kept beside each result (used for accuracy in Compare)"));
    m_outcome = new QLabel(this);
    m_outcome->setWordWrap(true);
    m_problems = new QListWidget(this);
    m_problems->setToolTip(tr("Rows that will not be imported, with their line numbers"));

    auto* mapping = new QFormLayout;
    mapping->addRow(tr("&Text column:"), m_text);
    mapping->addRow(tr("&Pair column:"), m_pair);
    mapping->addRow(tr("&Label column:"), m_label);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_importButton = buttons->button(QDialogButtonBox::Ok);
    m_importButton->setText(tr("Import and classify"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    for (QComboBox* box : {m_text, m_pair, m_label})
        connect(box, &QComboBox::currentIndexChanged, this, &ImportDialog::check);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(new QLabel(tr("First rows:"), this));
    layout->addWidget(m_table, 2);
    layout->addLayout(mapping);
    layout->addWidget(m_outcome);
    layout->addWidget(m_problems, 1);
    layout->addWidget(buttons);
    resize(820, 600);

    if (!m_preview.ok()) {
        m_summary->setText(
            tr("<b>This file cannot be imported:</b> %1").arg(m_preview.error.toHtmlEscaped()));
        for (QComboBox* box : {m_text, m_pair, m_label}) box->setEnabled(false);
        m_importButton->setEnabled(false);
        return;
    }
    m_summary->setText(tr("Detected: %1").arg(m_preview.summary));
    fillPreview();
    check();
}

QComboBox* ImportDialog::columnChoice(int selected, bool optional) {
    auto* box = new QComboBox(this);
    if (optional) box->addItem(tr("(none)"), -1);
    for (int c = 0; c < m_preview.columns.size(); ++c) box->addItem(m_preview.columns[c], c);
    const int index = box->findData(selected);
    box->setCurrentIndex(index >= 0 ? index : (optional ? 0 : -1));
    return box;
}

void ImportDialog::fillPreview() {
    m_table->setColumnCount(static_cast<int>(m_preview.columns.size()));
    m_table->setHorizontalHeaderLabels(m_preview.columns);
    m_table->setRowCount(static_cast<int>(m_preview.rows.size()));
    for (int r = 0; r < m_preview.rows.size(); ++r) {
        const QStringList& cells = m_preview.rows[r];
        for (int c = 0; c < cells.size() && c < m_table->columnCount(); ++c)
            m_table->setItem(r, c, new QTableWidgetItem(cells[c]));
    }
    m_table->resizeColumnsToContents();
}

ColumnMapping ImportDialog::mapping() const {
    ColumnMapping m;
    m.text = m_text->currentIndex() >= 0 ? m_text->currentData().toInt() : -1;
    m.pair = m_pair->currentData().toInt();
    m.label = m_label->currentData().toInt();
    return m;
}

void ImportDialog::check() {
    m_result = readImport(m_preview.path, mapping());
    m_problems->clear();
    if (!m_result.ok()) {
        m_outcome->setText(tr("<b>Cannot import:</b> %1").arg(m_result.error.toHtmlEscaped()));
        m_importButton->setEnabled(false);
        return;
    }
    m_problems->addItems(m_result.problems);
    m_outcome->setText(
        m_result.problems.isEmpty()
            ? tr("%1 inputs, every row usable.").arg(m_result.inputs.size())
            : tr("%1 inputs; %2 rows cannot be used and are listed below (they will not be imported).")
                  .arg(m_result.inputs.size())
                  .arg(m_result.problems.size()));
    m_importButton->setEnabled(!m_result.inputs.isEmpty());
}

} // namespace sida::ui
