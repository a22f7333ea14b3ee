// SPDX-License-Identifier: MIT
// Data files for training, evaluation and classification: TSV (the GLUE distribution), CSV
// (RFC 4180) and TXT (one text per line). Detection is deliberately conservative: a header is
// recognised by well-known column names, and when the text column cannot be told apart the
// reader asks for textColumn instead of guessing. No row disappears: each data line becomes an
// example or a RowProblem.
#include "sida/dataset.h"

#include "sida/errors.h"
#include "sida/tokenizer.h" // findInvalidUtf8

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <iterator>
#include <string_view>
#include <unordered_set>

namespace sida {
namespace {

enum class Format { Tsv, Csv, Txt };

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// Lower-case column names that the GLUE tasks and the usual exports (Hugging Face datasets,
// pandas) give their columns. Leftmost match wins.
const std::vector<std::string_view> kTextNames{"sentence",  "text",     "sentence1", "text_a",
                                               "question1", "question", "premise",   "#1 string"};
const std::vector<std::string_view> kPairNames{"sentence2", "text_b", "question2", "hypothesis", "#2 string"};
const std::vector<std::string_view> kLabelNames{"label",   "labels",     "class",
                                                "quality", "gold_label", "is_duplicate"};

// ---- small text helpers --------------------------------------------------------------------

bool isAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string trimmed(std::string_view s) {
    while (!s.empty() && isAsciiSpace(s.front())) s.remove_prefix(1);
    while (!s.empty() && isAsciiSpace(s.back())) s.remove_suffix(1);
    return std::string(s);
}

std::string lowercase(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool isAsciiBlank(std::string_view s) { return std::all_of(s.begin(), s.end(), isAsciiSpace); }

// Python's str.isspace() for the code points UTF-8 text can hold: a text of no-break or
// ideographic spaces tokenizes to nothing, so it counts as empty too.
bool isUnicodeSpace(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

// `s` must be valid UTF-8 (rows are checked before their cells are looked at).
bool isBlankText(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const auto lead = static_cast<unsigned char>(s[i]);
        const size_t length = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        char32_t c = length == 1 ? lead : lead & (0xff >> (length + 1));
        for (size_t k = 1; k < length; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
        if (!isUnicodeSpace(c)) return false;
        i += length;
    }
    return true;
}

std::string_view withoutTrailingCr(std::string_view s) {
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
}

std::optional<int64_t> parseIndex(std::string_view s) {
    int64_t value = -1;
    const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || error != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
}

Format formatOf(const std::string& source) {
    const std::string extension = lowercase(std::filesystem::path(source).extension().string());
    if (extension == ".csv") return Format::Csv;
    if (extension == ".txt") return Format::Txt;
    return Format::Tsv;
}

// ---- records: the file split into rows of cells ----------------------------------------------

struct Record {
    int64_t line = 0;     ///< 1-based line on which the record starts
    size_t offset = 0;    ///< byte offset of the record in the file (the BOM included)
    std::string_view raw; ///< its bytes without the line ending (several lines for quoted CSV)
    std::vector<std::string> cells;
    std::string quotingError; ///< CSV only: why the cells could not be read
};

// Splits text into records: lines of tab-separated cells, or RFC 4180 CSV records whose quoted
// cells may hold commas, doubled quotes and line breaks. Lines end with LF or CRLF; the line
// ending of the last line does not start another record.
class RecordReader {
public:
    RecordReader(std::string_view text, size_t offset, Format format)
        : text_(text), offset_(offset), csv_(format == Format::Csv) {}

    bool next(Record& record) {
        if (pos_ >= text_.size()) return false;
        record = Record{line_, offset_ + pos_, {}, {}, {}};
        if (csv_)
            readCsvRecord(record);
        else
            readTabRecord(record);
        return true;
    }

private:
    void readTabRecord(Record& record) {
        const size_t start = pos_;
        pos_ = std::min(text_.find('\n', start), text_.size());
        record.raw = withoutTrailingCr(text_.substr(start, pos_ - start));
        for (size_t cellStart = 0;;) {
            const size_t tab = record.raw.find('\t', cellStart);
            record.cells.emplace_back(record.raw.substr(cellStart, tab - cellStart));
            if (tab == std::string_view::npos) break;
            cellStart = tab + 1;
        }
        consumeLineEnd();
    }

    void readCsvRecord(Record& record) {
        const size_t start = pos_;
        for (;;) {
            record.cells.push_back(peek() == '"' ? readQuotedCell(record) : readPlainCell());
            if (!record.quotingError.empty()) {
                pos_ = std::min(text_.find('\n', pos_), text_.size()); // the rest of the line is lost
                break;
            }
            if (peek() != ',') break;
            ++pos_;
        }
        record.raw = withoutTrailingCr(text_.substr(start, pos_ - start));
        consumeLineEnd();
    }

    std::string readPlainCell() {
        const size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n') ++pos_;
        std::string_view cell = text_.substr(start, pos_ - start);
        if (peek() != ',') cell = withoutTrailingCr(cell); // the CR of a CRLF line ending
        return std::string(cell);
    }

    std::string readQuotedCell(Record& record) {
        const int64_t openedOn = line_;
        ++pos_; // the opening quote
        std::string cell;
        while (pos_ < text_.size()) {
            const char c = text_[pos_++];
            if (c == '"' && peek() == '"') {
                cell += '"';
                ++pos_;
            } else if (c == '"') {
                if (!atCellEnd())
                    record.quotingError = "has text after the closing quote of column " +
                                          std::to_string(record.cells.size() + 1) +
                                          " (a quote inside a quoted field is written twice: \"\")";
                return cell;
            } else {
                if (c == '\n') ++line_;
                cell += c;
            }
        }
        record.quotingError = "has a quote opened on line " + std::to_string(openedOn) +
                              " that is never closed (the rest of the file is inside it)";
        return cell;
    }

    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

    bool atCellEnd() const {
        if (pos_ >= text_.size()) return true;
        const char c = text_[pos_];
        return c == ',' || c == '\n' || (c == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n'));
    }

    void consumeLineEnd() {
        if (peek() == '\r') ++pos_;
        if (peek() == '\n') {
            ++pos_;
            ++line_;
        }
    }

    std::string_view text_;
    size_t offset_;
    bool csv_;
    size_t pos_ = 0;
    int64_t line_ = 1;
};

// ---- detection --------------------------------------------------------------------------------

int findName(const std::vector<std::string>& lowerNames, const std::vector<std::string_view>& candidates,
             int skip = -1) {
    for (size_t i = 0; i < lowerNames.size(); ++i)
        if (static_cast<int>(i) != skip &&
            std::find(candidates.begin(), candidates.end(), lowerNames[i]) != candidates.end())
            return static_cast<int>(i);
    return -1;
}

// A first row is a header when it names a column the way data sets usually do, or the way the
// options do (so that "--text-column review" works on a file with an unusual header).
bool looksLikeHeader(const std::vector<std::string>& cells, const DatasetOptions& options) {
    std::vector<std::string_view> known;
    for (const auto* names : {&kTextNames, &kPairNames, &kLabelNames})
        known.insert(known.end(), names->begin(), names->end());
    std::vector<std::string> optionNames;
    for (const auto& option : {options.textColumn, options.pairColumn, options.labelColumn})
        if (option && !trimmed(*option).empty() && !parseIndex(trimmed(*option)))
            optionNames.push_back(lowercase(trimmed(*option)));
    for (const auto& cell : cells) {
        const std::string name = lowercase(trimmed(cell));
        if (std::find(known.begin(), known.end(), name) != known.end()) return true;
        if (std::find(optionNames.begin(), optionNames.end(), name) != optionNames.end()) return true;
    }
    return false;
}

std::string glueLayout(const std::vector<std::string>& header) {
    using Names = std::vector<std::string>;
    if (header == Names{"sentence", "label"}) return "SST-2";
    if (header == Names{"Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"}) return "MRPC";
    if (header == Names{"index", "sentence1", "sentence2", "label"}) return "RTE";
    return "header";
}

// CoLA ships without a header: source code, label, the original author's acceptability mark
// (empty, "*", "?", "??", "#"), sentence.
bool looksLikeCola(const std::vector<std::string>& cells) {
    if (cells.size() != 4) return false;
    const bool sourceCode = !cells[0].empty() && cells[0].find_first_of(" \t") == std::string::npos;
    const bool binaryLabel = cells[1] == "0" || cells[1] == "1";
    const bool mark = cells[2].find_first_not_of("*?#") == std::string::npos;
    return sourceCode && binaryLabel && mark;
}

void detectFromHeader(Dataset& d, const std::vector<std::string>& header) {
    d.hasHeader = true;
    for (const auto& cell : header) d.columnNames.push_back(trimmed(cell));
    d.layout = glueLayout(d.columnNames);
    std::vector<std::string> lower;
    for (const auto& name : d.columnNames) lower.push_back(lowercase(name));
    d.mapping.text = findName(lower, kTextNames);
    d.mapping.pair = findName(lower, kPairNames);
    // Two text-like columns and no pair-like one (QNLI: question, sentence): the second is the pair.
    if (d.mapping.pair < 0 && d.mapping.text >= 0)
        d.mapping.pair = findName(lower, kTextNames, d.mapping.text);
    d.mapping.label = findName(lower, kLabelNames);
}

void detectWithoutHeader(Dataset& d, const Record& first, Format format) {
    const std::vector<std::string>& firstRow = first.cells;
    d.hasHeader = false;
    for (size_t i = 0; i < firstRow.size(); ++i) d.columnNames.push_back("column " + std::to_string(i + 1));
    if (format == Format::Txt) {
        if (firstRow.size() > 2)
            throw Error(
                d.source + ":" + std::to_string(first.line) + ": has " + std::to_string(firstRow.size()) +
                " tab-separated parts; a .txt file holds one text per line, or two separated by a tab");
        d.layout = "plain";
        d.mapping = {0, firstRow.size() == 2 ? 1 : -1, -1};
    } else if (looksLikeCola(firstRow)) {
        d.layout = "CoLA";
        d.mapping = {3, -1, 1};
    } else if (firstRow.size() == 1) {
        d.layout = "plain";
        d.mapping = {0, -1, -1};
    } else {
        d.layout = "columns"; // several unnamed columns: which is the text is for the options to say
    }
}

std::string describeColumns(const std::vector<std::string>& names) {
    std::string list;
    for (size_t i = 0; i < names.size(); ++i)
        list += (i ? ", " : "") + std::to_string(i) + " '" + names[i] + "'";
    return list;
}

// An option that names a column: its exact name, the name in any case, or a 0-based index.
int resolveColumn(const Dataset& d, const char* option, const std::string& value) {
    const auto& names = d.columnNames;
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == trimmed(value)) return static_cast<int>(i);
    for (size_t i = 0; i < names.size(); ++i)
        if (lowercase(names[i]) == lowercase(trimmed(value))) return static_cast<int>(i);
    if (const auto index = parseIndex(trimmed(value))) {
        if (*index >= 0 && *index < static_cast<int64_t>(names.size())) return static_cast<int>(*index);
        throw Error(d.source + ": " + option + " " + value + " is out of range: the file has " +
                    std::to_string(names.size()) + " columns (" + describeColumns(names) + ")");
    }
    throw Error(d.source + ": " + option + " '" + value + "' is not a column of the file; its columns are " +
                describeColumns(names));
}

void applyOverrides(Dataset& d, const DatasetOptions& options) {
    if (options.textColumn) d.mapping.text = resolveColumn(d, "textColumn", *options.textColumn);
    if (options.pairColumn) d.mapping.pair = resolveColumn(d, "pairColumn", *options.pairColumn);
    if (options.labelColumn) d.mapping.label = resolveColumn(d, "labelColumn", *options.labelColumn);
}

void requireMapping(const Dataset& d, const DatasetOptions& options) {
    const std::string columns = " (columns: " + describeColumns(d.columnNames) + ")";
    if (d.mapping.text < 0)
        throw Error(d.source + ": no text column found" + columns +
                    (d.hasHeader ? "" : "; the file has no header") + "; name it with textColumn");
    if (options.requireLabels && d.mapping.label < 0)
        throw Error(d.source + ": no label column found" + columns +
                    "; name it with labelColumn, or read the file without labels");
}

// ---- rows ----------------------------------------------------------------------------------

// Reads the records of one file into a Dataset: detection from the first non-blank record, then
// every record checked and turned into an example or a problem.
class DatasetReader {
public:
    DatasetReader(const std::string& content, const std::string& source, const DatasetOptions& options)
        : options_(options) {
        dataset_.source = source;
        format_ = formatOf(source);
        dataset_.delimiter = format_ == Format::Csv ? ',' : '\t';
        std::string_view text = content;
        dataset_.hadByteOrderMark = text.starts_with(kByteOrderMark);
        if (dataset_.hadByteOrderMark) text.remove_prefix(kByteOrderMark.size());
        reader_ = RecordReader(text, content.size() - text.size(), format_);
    }

    Dataset read() {
        const Record first = detect();
        requireMapping(dataset_, options_);
        reportLeadingBlankLines();
        if (!dataset_.hasHeader && !limitReached()) take(first);
        for (Record record; !limitReached() && reader_.next(record);) take(record);
        return std::move(dataset_);
    }

    DatasetPreview preview(int rows) {
        options_.strict = false; // the preview shows problems, it does not stop at them
        DatasetPreview preview;
        const Record first = detect();
        reportLeadingBlankLines();
        auto show = [&](const Record& record) {
            preview.rows.push_back(record.cells);
            if (dataset_.mapping.text >= 0) take(record);
        };
        if (!dataset_.hasHeader && rows > 0) show(first);
        for (Record record; static_cast<int>(preview.rows.size()) < rows && reader_.next(record);)
            show(record);
        preview.detected = std::move(dataset_);
        return preview;
    }

private:
    // Finds the first non-blank record, and from it the header and the layout.
    Record detect() {
        Record first;
        while (reader_.next(first) && isAsciiBlank(first.raw)) leadingBlankLines_.push_back(first.line);
        if (first.line == 0 || isAsciiBlank(first.raw)) throw Error(dataset_.source + ": the file is empty");
        firstLine_ = first.line;
        if (format_ != Format::Txt && looksLikeHeader(first.cells, options_)) {
            if (const int64_t bad = findInvalidUtf8(std::string(first.raw)); bad >= 0)
                throw Error(dataset_.source + ":" + std::to_string(first.line) +
                            ": the header is not valid UTF-8 (byte " + std::to_string(first.offset + bad) +
                            " of the file)");
            detectFromHeader(dataset_, first.cells);
        } else {
            detectWithoutHeader(dataset_, first, format_);
        }
        applyOverrides(dataset_, options_);
        return first;
    }

    void reportLeadingBlankLines() {
        for (const int64_t line : leadingBlankLines_) report(line, "is empty");
    }

    bool limitReached() const {
        return options_.limit >= 0 && static_cast<int64_t>(dataset_.examples.size()) >= options_.limit;
    }

    void take(const Record& record) {
        if (const std::string problem = problemWith(record); !problem.empty())
            report(record.line, problem);
        else
            dataset_.examples.push_back(exampleFrom(record));
    }

    void report(int64_t line, const std::string& message) {
        if (options_.strict) throw Error(dataset_.source + ":" + std::to_string(line) + ": " + message);
        dataset_.problems.push_back({line, message});
    }

    std::string columnLabel(int column) const { return "column '" + dataset_.columnNames[column] + "'"; }

    // Why a record cannot be an example, or "" when it can.
    std::string problemWith(const Record& record) const {
        if (!record.quotingError.empty()) return record.quotingError;
        if (const int64_t bad = findInvalidUtf8(std::string(record.raw)); bad >= 0)
            return "is not valid UTF-8 (byte " + std::to_string(bad) + " of the row, byte " +
                   std::to_string(record.offset + bad) + " of the file)";
        if (isAsciiBlank(record.raw)) return "is empty";
        const size_t expected = dataset_.columnNames.size();
        if (record.cells.size() != expected)
            return "has " + std::to_string(record.cells.size()) + " " + separatedBy() +
                   " columns, expected " + std::to_string(expected) +
                   (dataset_.hasHeader ? " as in the header" : " as on line " + std::to_string(firstLine_));
        const ColumnMapping& m = dataset_.mapping;
        if (isBlankText(record.cells[m.text])) return "has an empty text in " + columnLabel(m.text);
        if (m.pair >= 0 && isBlankText(record.cells[m.pair]))
            return "has an empty second text in " + columnLabel(m.pair);
        if (m.label >= 0 && options_.requireLabels && trimmed(record.cells[m.label]).empty())
            return "has no label in " + columnLabel(m.label);
        return {};
    }

    std::string separatedBy() const { return format_ == Format::Csv ? "comma-separated" : "tab-separated"; }

    // Texts are kept as written (the tokenizer owns whitespace); labels lose surrounding blanks.
    Example exampleFrom(const Record& record) const {
        const ColumnMapping& m = dataset_.mapping;
        Example example;
        example.line = record.line;
        example.text = record.cells[m.text];
        if (m.pair >= 0) example.pair = record.cells[m.pair];
        if (m.label >= 0)
            if (std::string label = trimmed(record.cells[m.label]); !label.empty())
                example.label = std::move(label);
        return example;
    }

    DatasetOptions options_;
    Dataset dataset_;
    Format format_ = Format::Tsv;
    RecordReader reader_{{}, 0, Format::Tsv};
    std::vector<int64_t> leadingBlankLines_;
    int64_t firstLine_ = 1;
};

std::string readWholeFile(const std::filesystem::path& path) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) throw Error("'" + path.string() + "' does not exist");
    if (std::filesystem::is_directory(path, error))
        throw Error("'" + path.string() + "' is a folder, not a data file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read '" + path.string() + "'");
    std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) throw Error("cannot read '" + path.string() + "'");
    return content;
}

} // namespace

std::vector<std::string> Dataset::labels() const {
    std::vector<std::string> distinct;
    std::unordered_set<std::string> seen;
    for (const auto& example : examples)
        if (example.label && seen.insert(*example.label).second) distinct.push_back(*example.label);
    return distinct;
}

Dataset parseDataset(const std::string& content, const std::string& source, const DatasetOptions& options) {
    return DatasetReader(content, source, options).read();
}

Dataset readDataset(const std::filesystem::path& path, const DatasetOptions& options) {
    return parseDataset(readWholeFile(path), path.string(), options);
}

DatasetPreview previewDataset(const std::filesystem::path& path, int rows, const DatasetOptions& options) {
    return DatasetReader(readWholeFile(path), path.string(), options).preview(rows);
}

int64_t labelId(const std::string& label, const std::vector<std::string>& labels) {
    const auto count = static_cast<int64_t>(labels.size());
    if (const auto id = parseIndex(label); id && *id >= 0 && *id < count) return *id;
    const auto match = std::find(labels.begin(), labels.end(), label);
    return match == labels.end() ? -1 : match - labels.begin();
}

} // namespace sida
