// SPDX-License-Identifier: MIT
// The engine's precompiled header: LibTorch, which dominates compile time.
#pragma once
#include <torch/torch.h>
