// SPDX-License-Identifier: MIT
#pragma once

namespace sida {
/// The SiDA Studio version (CMake's project version).
extern const char* const kVersion;
} // namespace sida
