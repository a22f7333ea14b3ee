// SPDX-License-Identifier: MIT
#include "sida/progress.h"

#include "sida/errors.h"

namespace sida {

void CancelToken::throwIfCancelled() const {
    if (cancelled()) throw Cancelled();
}

} // namespace sida
