// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

namespace sida {

/// SHA-256 of bytes, as lowercase hex.
std::string sha256Hex(std::span<const std::byte> bytes);

/// SHA-256 of a file, as lowercase hex (for training records' data checksums).
std::string sha256File(const std::filesystem::path& path);

} // namespace sida
