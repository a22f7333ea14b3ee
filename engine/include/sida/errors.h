// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>

namespace sida {

/// Every failure the engine reports. The message names what is at fault: the file, tensor,
/// config field, TSV row or setting, so that a user can fix it without reading code.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Thrown by long jobs when their CancelToken was cancelled.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

} // namespace sida
