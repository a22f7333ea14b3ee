// SPDX-License-Identifier: MIT
// Importing a data file into the results table: a preview of its first rows with what the engine
// detected (delimiter, header, byte-order mark, columns), then the inputs and every row that could
// not be used, with its line number. No widgets, so the rules are tested on their own.
#pragma once

#include "results_model.h"

#include "sida/dataset.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <vector>

namespace sida::ui {

struct ImportPreview {
    QString path;
    QString error;           ///< the file cannot be read (the sida::Error message)
    QStringList columns;     ///< header names, or "column 1".. without a header
    QList<QStringList> rows; ///< the first rows, cells as written
    ColumnMapping detected;  ///< -1 where nothing was detected
    QString summary;         ///< "TSV · header · UTF-8 BOM removed · layout SST-2"
    bool ok() const { return error.isEmpty(); }
};

struct ImportResult {
    QString error; ///< the whole file is unusable
    QList<InputText> inputs;
    QStringList problems; ///< "line 7: has 1 column, the header has 2"
    QString summary;
    bool ok() const { return error.isEmpty(); }
};

/// The first `rows` rows of a file, as detection sees them.
ImportPreview previewImport(const QString& path, int rows = 20);
/// Reads the whole file with the chosen columns (-1: none; the text column is required).
ImportResult readImport(const QString& path, const ColumnMapping& mapping);
/// What detection found, in a few words.
QString describeDataset(const Dataset& dataset);

} // namespace sida::ui
