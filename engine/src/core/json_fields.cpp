// SPDX-License-Identifier: MIT
#include "json_fields.h"

#include <fstream>
#include <iterator>

namespace sida::detail {

nlohmann::json parseJsonObject(const std::string& text, const std::string& source) {
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(source + ": not valid JSON (" + e.what() + ")");
    }
    if (!document.is_object()) throw Error(source + ": not a JSON object");
    return document;
}

std::string readTextFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read '" + path + "'");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace sida::detail
