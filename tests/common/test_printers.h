// SPDX-License-Identifier: MIT
// How QCOMPARE prints the standard types the engine's API uses, so that a failed comparison shows
// both values instead of nothing. Include before the first QCOMPARE on such a type.
#pragma once

#include <QtTest>

#include <cstdint>
#include <string>
#include <vector>

namespace QTest {

template <>
inline char* toString(const std::string& text) {
    return qstrdup(("\"" + text + "\"").c_str());
}

template <>
inline char* toString(const std::vector<int64_t>& values) {
    std::string text = "[";
    for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + std::to_string(values[i]);
    return qstrdup((text + "]").c_str());
}

template <>
inline char* toString(const std::vector<std::string>& values) {
    std::string text = "[";
    for (size_t i = 0; i < values.size(); ++i) text += (i ? ", \"" : "\"") + values[i] + "\"";
    return qstrdup((text + "]").c_str());
}

} // namespace QTest
