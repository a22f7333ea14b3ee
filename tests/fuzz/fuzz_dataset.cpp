// SPDX-License-Identifier: MIT
// parseDataset on arbitrary bytes read as a .csv, a .tsv and a .txt file, with reader options
// taken from the first four bytes, and previewDataset on the same bytes written to files. Every row
// must become an example or a RowProblem, and every example must be usable as documented.
#include "fuzz_check.h"

#include "sida/dataset.h"
#include "sida/errors.h"
#include "sida/tokenizer.h"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>

namespace {

// The first four bytes choose the reader options, the rest is the file:
//   byte 0  bit 0 requireLabels, bit 1 strict, bits 2-4 limit (0: none, n: n - 1),
//           bits 5-7 rows to preview
//   byte 1..3  textColumn, pairColumn, labelColumn: the top three bits choose none (0-3), a
//           well-known name (4), that name upper-cased (5), an index from -2 to 13 (6) or "" (7);
//           the low four bits choose the name or the index.
constexpr size_t kOptionBytes = 4;

std::optional<std::string> columnOption(uint8_t byte) {
    static const char* const kNames[16] = {
        "sentence", "label",    "text",     "sentence1", "sentence2", "#1 String", "#2 String",  "Quality",
        "column 1", "column 2", "column 4", " label ",   "index",     "review",    "gold_label", "question"};
    const int value = byte & 0x0f;
    switch (byte >> 5) {
    case 4:
        return std::string(kNames[value]);
    case 5: {
        std::string upper = kNames[value];
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return upper;
    }
    case 6:
        return std::to_string(value - 2);
    case 7:
        return std::string();
    default:
        return std::nullopt;
    }
}

struct FuzzOptions {
    sida::DatasetOptions reader;
    int previewRows = 0;
};

FuzzOptions optionsFrom(const uint8_t* data, size_t size) {
    uint8_t bytes[kOptionBytes] = {};
    for (size_t i = 0; i < kOptionBytes && i < size; ++i) bytes[i] = data[i];
    FuzzOptions options;
    options.reader.requireLabels = bytes[0] & 1;
    options.reader.strict = bytes[0] & 2;
    const int limit = (bytes[0] >> 2) & 7;
    options.reader.limit = limit == 0 ? -1 : limit - 1;
    options.previewRows = bytes[0] >> 5;
    options.reader.textColumn = columnOption(bytes[1]);
    options.reader.pairColumn = columnOption(bytes[2]);
    options.reader.labelColumn = columnOption(bytes[3]);
    return options;
}

bool inColumns(int column, const sida::Dataset& d) {
    return column >= -1 && column < static_cast<int>(d.columnNames.size());
}

void checkDataset(const sida::Dataset& d, const sida::DatasetOptions& options, bool preview) {
    FUZZ_CHECK(!d.columnNames.empty(), "a parsed file has columns");
    FUZZ_CHECK(inColumns(d.mapping.text, d) && inColumns(d.mapping.pair, d) && inColumns(d.mapping.label, d),
               "the mapping names columns of the file");
    if (!preview) {
        FUZZ_CHECK(d.mapping.text >= 0, "a read data set has a text column");
        FUZZ_CHECK(!options.requireLabels || d.mapping.label >= 0, "labels required: a label column");
        FUZZ_CHECK(options.limit < 0 || static_cast<int64_t>(d.examples.size()) <= options.limit,
                   "the limit is kept");
        FUZZ_CHECK(!options.strict || d.problems.empty(), "strict: problems throw instead");
    }
    int64_t previousLine = 0;
    for (const sida::Example& example : d.examples) {
        FUZZ_CHECK(example.line > previousLine, "examples in file order, lines 1-based");
        previousLine = example.line;
        FUZZ_CHECK(sida::findInvalidUtf8(example.text) < 0 && !sida::isBlankText(example.text),
                   "texts are valid UTF-8 and not blank");
        FUZZ_CHECK(example.pair.has_value() == (d.mapping.pair >= 0), "a pair exactly when mapped");
        if (example.pair)
            FUZZ_CHECK(sida::findInvalidUtf8(*example.pair) < 0 && !sida::isBlankText(*example.pair),
                       "second texts are valid UTF-8 and not blank");
        if (options.requireLabels && d.mapping.label >= 0)
            FUZZ_CHECK(example.label.has_value(), "labels present");
        if (example.label) FUZZ_CHECK(!example.label->empty(), "labels are never empty");
    }
    for (const sida::RowProblem& problem : d.problems)
        FUZZ_CHECK(problem.line >= 1 && !problem.message.empty(), "problems name a line and a reason");
    const auto labels = d.labels();
    FUZZ_CHECK(std::set<std::string>(labels.begin(), labels.end()).size() == labels.size(),
               "labels distinct");
    for (const sida::Example& example : d.examples)
        if (example.label) FUZZ_CHECK(sida::labelId(*example.label, labels) >= 0, "every label has an id");
}

// previewDataset reads a path, so the bytes go through a file of the right extension.
std::filesystem::path scratchFile(const std::string& extension) {
    static const std::filesystem::path dir = [] {
        // Memory-backed when there is /dev/shm: the files are rewritten for every input.
        const std::filesystem::path parent =
            ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : std::filesystem::temp_directory_path();
        std::string pattern = (parent / "sida-fuzz-dataset-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) std::abort();
        return std::filesystem::path(pattern);
    }();
    return dir / ("input" + extension);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const FuzzOptions fuzzOptions = optionsFrom(data, size);
    const sida::DatasetOptions& options = fuzzOptions.reader;
    const size_t skip = size < kOptionBytes ? size : kOptionBytes;
    const std::string content(reinterpret_cast<const char*>(data) + skip, size - skip);

    for (const char* extension : {".csv", ".tsv", ".txt"}) {
        const std::string source = std::string("fuzz") + extension;
        try {
            checkDataset(sida::parseDataset(content, source, options), options, false);
        } catch (const sida::Error&) {}
        const auto path = scratchFile(extension);
        std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
        try {
            const sida::DatasetPreview preview = sida::previewDataset(path, fuzzOptions.previewRows, options);
            FUZZ_CHECK(static_cast<int>(preview.rows.size()) <= fuzzOptions.previewRows, "preview row count");
            checkDataset(preview.detected, options, true);
        } catch (const sida::Error&) {}
    }
    return 0;
}
