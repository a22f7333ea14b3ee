// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sida {

/// Which columns hold the text, the optional second sentence and the label (0-based; -1: none).
struct ColumnMapping {
    int text = -1;
    int pair = -1;
    int label = -1;
};

/// How to read a data file. A column option is a header name (exact, else in any case; on a file
/// without a header the names are "column 1", "column 2", ..) or a 0-based index; it overrides
/// detection. A name or index the file does not have throws sida::Error naming the option and
/// listing the columns.
struct DatasetOptions {
    std::optional<std::string> textColumn;
    std::optional<std::string> pairColumn;
    std::optional<std::string> labelColumn;
    bool requireLabels = true; ///< false: labels are read when present (classification input)
    bool strict = false;       ///< a malformed row is an error instead of being reported and skipped
    int64_t limit = -1;        ///< stop after this many examples (-1: all)
};

/// One row of a data set.
struct Example {
    std::string text; ///< as written in the file, surrounding blanks included
    std::optional<std::string> pair;
    std::optional<std::string> label; ///< as written ("1", "entailment"), trimmed; none if empty
    int64_t line = 0;                 ///< 1-based line in the file
};

/// A row that was skipped, and why.
struct RowProblem {
    int64_t line = 0;    ///< 1-based line on which the row starts
    std::string message; ///< what is wrong, without the file and line ("has no label in column 'label'")
};

/// A parsed data file: the examples in file order, what was detected, and every skipped row.
struct Dataset {
    std::string source;
    /// "SST-2", "MRPC", "RTE", "CoLA" (the GLUE files), "header" (another header with known names),
    /// "plain" (one text per line, or a tab-separated pair in a .txt file), or "columns" (several
    /// columns without a header: the options must say which holds the text). Overrides do not change it.
    std::string layout;
    char delimiter = '\t';
    bool hasHeader = false;
    bool hadByteOrderMark = false;
    std::vector<std::string> columnNames; ///< from the header, or "column 1".. when there is none
    ColumnMapping mapping;
    std::vector<Example> examples;
    std::vector<RowProblem> problems;
    /// Distinct labels in order of first appearance.
    std::vector<std::string> labels() const;
};

/// Reads a TSV, CSV (RFC 4180 quoting) or TXT file. The extension picks the format: .csv is
/// comma-separated with quoted fields that may hold commas, doubled quotes and line breaks; .txt
/// holds one text per line (a tab separates a sentence pair) and never has a header or labels;
/// anything else is tab-separated with no quote processing (GLUE sentences contain quotes).
/// Lines end with LF or CRLF; a UTF-8 byte-order mark is stripped; the final line ending does not
/// start another row.
///
/// The first non-blank row is a header when a cell is a well-known column name (sentence, text,
/// sentence1, question1, text_a, #1 String, sentence2, text_b, question2, #2 String, label,
/// labels, class, quality, gold_label, ...) or a name given in the options. The four GLUE layouts
/// are recognised: SST-2 (header sentence, label), MRPC (header Quality, #1 ID, #2 ID, #1 String,
/// #2 String), RTE (header index, sentence1, sentence2, label) and CoLA (no header: source,
/// label, mark, sentence). A headerless file with one column is plain text.
///
/// Every line after the header becomes an example or a RowProblem; none is dropped silently. A
/// row is a problem when it is blank, is not valid UTF-8 (the byte offset is given), has another
/// number of columns than the header (or the first row), has an empty or whitespace-only text or
/// pair, or has an empty label while `requireLabels`. With `strict` the first problem throws
/// sida::Error "<file>:<line>: <message>" instead.
///
/// Throws sida::Error naming the file when it cannot be read, is empty (or only blank lines),
/// has a header that is not valid UTF-8, has no text column, or has no label column while
/// `requireLabels`.
Dataset readDataset(const std::filesystem::path& path, const DatasetOptions& options = {});

/// The same from text in memory; `source` names it in messages and its extension picks the format.
Dataset parseDataset(const std::string& content, const std::string& source,
                     const DatasetOptions& options = {});

/// The first rows of a file split into cells, with what detection found, for an import preview.
/// Reads as readDataset does but never stops at a row problem, and does not require a text or a
/// label column (the mapping then holds -1, for the user to choose); a bad column option still
/// throws, as do unreadable or empty files.
struct DatasetPreview {
    Dataset detected;                           ///< `examples` holds at most the previewed rows
    std::vector<std::vector<std::string>> rows; ///< cells of the first `rows` lines after the header
};
DatasetPreview previewDataset(const std::filesystem::path& path, int rows,
                              const DatasetOptions& options = {});

/// Maps a label as written in a file to a class id: a decimal integer in [0, labels.size()) is
/// that id, otherwise the index of the exactly matching name in `labels`; -1 when neither.
int64_t labelId(const std::string& label, const std::vector<std::string>& labels);

} // namespace sida
