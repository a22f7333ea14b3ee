// SPDX-License-Identifier: MIT
// Helpers for the Qt Test suites: fixture paths, temporary copies of model folders, and
// reading the reference tensors the fixture script recorded with Hugging Face transformers.
#pragma once

#include "sida/safetensors.h"

#include <QString>
#include <QTemporaryDir>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace sida::test {

/// tests/fixtures/<relative>.
std::filesystem::path fixture(const std::string& relative);
/// ../shared/data/glue/<relative>; the suite is skipped when the data is absent.
std::filesystem::path glue(const std::string& relative);
/// The tiny Hugging Face models of tests/fixtures/hf.
std::vector<std::string> hfFixtureModels();

/// A reference tensor read from a safetensors file (F32, I64 or BF16), as doubles, with its shape.
struct ReferenceTensor {
    std::vector<int64_t> shape;
    std::vector<double> values;
};
ReferenceTensor readReference(const SafetensorsFile& file, const std::string& name);

/// Copies a model folder (following the tokenizer link) into `dir`/name, to corrupt it in a test.
std::filesystem::path copyModel(const std::filesystem::path& source, const QTemporaryDir& dir,
                                const std::string& name = "model");

/// A copy of the e4-step2-fp32 fixture with a small predictor trained on synthetic sentences, so
/// that every serving policy can run on it. Takes a few seconds.
std::filesystem::path fixtureWithPredictor(const QTemporaryDir& dir);

/// Short sentences from a small vocabulary, deterministic for a seed.
std::vector<std::string> syntheticSentences(size_t count, uint64_t seed);

std::string readFile(const std::filesystem::path& path);
void writeFile(const std::filesystem::path& path, const std::string& bytes);
/// Writes the header line and data lines [first, first + count) of `source` to `target`, byte for
/// byte (a byte-order mark on the header stays). Throws std::runtime_error if `source` cannot be
/// read (the GLUE data in ../shared missing), rather than writing an empty file.
void writeRows(const std::filesystem::path& source, const std::filesystem::path& target, int first,
               int count);
/// Runs `f`; "" when it throws a sida::Error whose message holds every part, else what happened
/// instead (another exception, a message lacking a part, or no error).
QString errorProblem(const std::function<void()>& f, const std::vector<std::string>& parts);

/// Runs the `sida` executable; returns its exit status and fills stdout/stderr.
int runCli(const std::vector<std::string>& arguments, std::string* out = nullptr, std::string* err = nullptr,
           const std::string& stdinText = {});

} // namespace sida::test
