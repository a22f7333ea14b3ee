// SPDX-License-Identifier: MIT
#include "dataset_import.h"

#include "sida/errors.h"

#include <QFileInfo>

namespace sida::ui {

namespace {

QString q(const std::string& text) { return QString::fromStdString(text); }

std::optional<std::string> columnOption(int column) {
    if (column < 0) return std::nullopt;
    return std::to_string(column);
}

QString formatName(const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == u"csv") return QStringLiteral("CSV");
    if (suffix == u"txt") return QStringLiteral("TXT");
    return QStringLiteral("TSV");
}

} // namespace

QString describeDataset(const Dataset& d) {
    QStringList parts{formatName(q(d.source))};
    parts << (d.hasHeader ? QStringLiteral("header row") : QStringLiteral("no header"));
    if (d.hadByteOrderMark) parts << QStringLiteral("UTF-8 byte-order mark removed");
    if (d.layout != "header" && d.layout != "plain" && d.layout != "columns")
        parts << QStringLiteral("GLUE %1 layout").arg(q(d.layout));
    parts << QStringLiteral("%1 columns").arg(d.columnNames.size());
    return parts.join(QStringLiteral(" · "));
}

ImportPreview previewImport(const QString& path, int rows) {
    ImportPreview preview;
    preview.path = path;
    DatasetOptions options;
    options.requireLabels = false;
    try {
        const DatasetPreview p = previewDataset(path.toStdString(), rows, options);
        for (const std::string& name : p.detected.columnNames) preview.columns << q(name);
        for (const auto& row : p.rows) {
            QStringList cells;
            for (const std::string& cell : row) cells << q(cell);
            preview.rows << cells;
        }
        preview.detected = p.detected.mapping;
        preview.summary = describeDataset(p.detected);
    } catch (const Error& error) {
        preview.error = q(error.what());
    }
    return preview;
}

ImportResult readImport(const QString& path, const ColumnMapping& mapping) {
    ImportResult result;
    if (mapping.text < 0) {
        result.error = QStringLiteral("choose the column that holds the text");
        return result;
    }
    DatasetOptions options;
    options.requireLabels = false;
    options.textColumn = columnOption(mapping.text);
    options.pairColumn = columnOption(mapping.pair);
    options.labelColumn = columnOption(mapping.label);
    try {
        const Dataset d = readDataset(path.toStdString(), options);
        for (const Example& e : d.examples) {
            InputText input;
            input.text = q(e.text);
            if (e.pair) input.pair = q(*e.pair);
            if (e.label) input.expectedLabel = q(*e.label);
            input.line = e.line;
            result.inputs << input;
        }
        for (const RowProblem& p : d.problems)
            result.problems << QStringLiteral("line %1: %2").arg(p.line).arg(q(p.message));
        result.summary = describeDataset(d);
    } catch (const Error& error) {
        result.error = q(error.what());
    }
    return result;
}

} // namespace sida::ui
