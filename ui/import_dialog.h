// SPDX-License-Identifier: MIT
// Import: a preview of a data file's first rows with what was detected (delimiter, header, byte-order
// mark), a choice of the text, pair and label columns, and every row that cannot be used, listed with
// its line number before anything is submitted.
#pragma once

#include "dataset_import.h"

#include <QDialog>

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;
class QTableWidget;

namespace sida::ui {

class ImportDialog : public QDialog {
    Q_OBJECT

public:
    explicit ImportDialog(const QString& path, QWidget* parent = nullptr);

    /// The inputs and problems with the chosen columns (valid after the dialog was accepted).
    const ImportResult& result() const { return m_result; }
    ColumnMapping mapping() const;
    QListWidget* problemList() const { return m_problems; }
    /// Re-reads the file with the chosen columns and lists what it found.
    void check();

private:
    void fillPreview();
    QComboBox* columnChoice(int selected, bool optional);

    ImportPreview m_preview;
    ImportResult m_result;
    QLabel* m_summary;
    QTableWidget* m_table;
    QComboBox* m_text;
    QComboBox* m_pair;
    QComboBox* m_label;
    QLabel* m_outcome;
    QListWidget* m_problems;
    QPushButton* m_importButton;
};

} // namespace sida::ui
