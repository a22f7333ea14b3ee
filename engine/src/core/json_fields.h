// SPDX-License-Identifier: MIT
// Typed access to fields of a JSON object, with errors that name the file and the field.
#pragma once

#include "sida/errors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sida::detail {

/// A JSON value for an error message: scalars as written (long ones shortened), arrays and
/// objects by kind. Never dump() a container read from a file: dump() recurses once per nesting
/// level, and a header nested a million levels deep overflows the stack.
inline std::string describeValue(const nlohmann::json& value) {
    if (value.is_array()) return "an array of " + std::to_string(value.size()) + " element(s)";
    if (value.is_object()) return "an object";
    std::string text = value.dump();
    if (text.size() > 80) {
        size_t cut = 77;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut; // UTF-8 boundary
        text = text.substr(0, cut) + "...";
    }
    return text;
}

/// How deeply `value` nests arrays and objects (a scalar: 0), found without recursion and given up
/// once past `limit`. Copying, comparing or dumping a JSON value recurses once per level, so a
/// value from a file is kept only when it is shallow: a file may nest a million levels.
inline size_t nestingDepth(const nlohmann::json& value, size_t limit) {
    std::vector<std::pair<const nlohmann::json*, size_t>> pending{{&value, 0}};
    size_t deepest = 0;
    while (!pending.empty()) {
        const auto [node, depth] = pending.back();
        pending.pop_back();
        if (!node->is_structured()) continue;
        deepest = std::max(deepest, depth + 1);
        if (deepest > limit) break;
        for (const nlohmann::json& child : *node) pending.emplace_back(&child, depth + 1);
    }
    return deepest;
}

class JsonFields {
public:
    JsonFields(const nlohmann::json& object, std::string source)
        : object_(object), source_(std::move(source)) {}

    bool has(const std::string& key) const { return object_.contains(key) && !object_[key].is_null(); }
    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw Error(source_ + ": field '" + key + "' " + what);
    }

    std::optional<int64_t> optionalInt(const std::string& key) const {
        if (!has(key)) return std::nullopt;
        const auto& v = object_[key];
        if (!v.is_number_integer()) fail(key, "must be an integer, not " + describeValue(v));
        // get<int64_t>() turns an unsigned value above INT64_MAX negative, and the message then
        // named a value the file does not hold ("must be positive, not -1" for 2^64 - 1).
        if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
            fail(key, "is too large: " + describeValue(v));
        return v.get<int64_t>();
    }
    int64_t integer(const std::string& key, int64_t fallback) const {
        return optionalInt(key).value_or(fallback);
    }
    int64_t positive(const std::string& key, int64_t fallback) const {
        const int64_t value = integer(key, fallback);
        if (value <= 0) fail(key, "must be positive, not " + std::to_string(value));
        return value;
    }
    int64_t nonNegative(const std::string& key, int64_t fallback) const {
        const int64_t value = integer(key, fallback);
        if (value < 0) fail(key, "must not be negative, not " + std::to_string(value));
        return value;
    }
    double number(const std::string& key, double fallback) const {
        if (!has(key)) return fallback;
        const auto& v = object_[key];
        if (!v.is_number()) fail(key, "must be a number, not " + describeValue(v));
        return v.get<double>();
    }
    bool boolean(const std::string& key, bool fallback) const {
        if (!has(key)) return fallback;
        const auto& v = object_[key];
        if (!v.is_boolean()) fail(key, "must be true or false, not " + describeValue(v));
        return v.get<bool>();
    }
    std::string string(const std::string& key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        const auto& v = object_[key];
        if (!v.is_string()) fail(key, "must be a string, not " + describeValue(v));
        return v.get<std::string>();
    }
    const nlohmann::json& raw(const std::string& key) const { return object_[key]; }
    const std::string& source() const { return source_; }

private:
    const nlohmann::json& object_;
    std::string source_;
};

/// Parses JSON text, turning syntax errors into sida::Error naming the file.
nlohmann::json parseJsonObject(const std::string& text, const std::string& source);

/// The largest JSON file of a model folder readTextFile reads (the safetensors header limit).
inline constexpr uint64_t kMaxTextFileBytes = 100'000'000;

/// Reads a whole regular file as text; sida::Error naming it when it cannot be read, is not a
/// regular file (a FIFO, a device) or is larger than kMaxTextFileBytes.
std::string readTextFile(const std::string& path);

} // namespace sida::detail
