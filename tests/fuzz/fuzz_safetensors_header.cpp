// SPDX-License-Identifier: MIT
// parseSafetensorsHeader on arbitrary bytes, as if they were a whole file: any outcome but a
// sida::Error or a header whose every tensor lies inside the file is a bug.
#include "fuzz_check.h"

#include "sida/errors.h"
#include "sida/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace {

// What SafetensorsFile::data() and the loader rely on once the header has been accepted.
void checkAccepted(const sida::SafetensorsHeader& header, std::span<const std::byte> file) {
    FUZZ_CHECK(header.dataOffset >= 8 && header.dataOffset <= file.size(),
               "data buffer starts inside the file");
    FUZZ_CHECK(header.positions.size() == header.tensors.size(), "one position per tensor, names unique");
    uint64_t expectedBegin = 0;
    for (const sida::TensorInfo& tensor : header.tensors) {
        FUZZ_CHECK(tensor.begin == expectedBegin, "tensors are contiguous and in offset order");
        FUZZ_CHECK(tensor.end >= tensor.begin, "offsets ordered");
        FUZZ_CHECK(tensor.byteSize() == tensor.numel() * sida::dtypeSize(tensor.dtype), "size matches shape");
        FUZZ_CHECK(header.dataOffset + tensor.end <= file.size(), "tensor lies inside the file");
        FUZZ_CHECK(header.find(tensor.name) == &tensor, "lookup by name finds the tensor");
        for (int64_t dim : tensor.shape) FUZZ_CHECK(dim >= 0, "dimensions are non-negative");
        (void)sida::dtypeName(tensor.dtype);
        // Touch the first and last byte so that ASan sees any read outside the input.
        if (tensor.byteSize() > 0) {
            const auto bytes = file.subspan(header.dataOffset + tensor.begin, tensor.byteSize());
            volatile std::byte sink = bytes.front();
            sink = bytes.back();
            (void)sink;
        }
        expectedBegin = tensor.end;
    }
    FUZZ_CHECK(header.dataOffset + expectedBegin == file.size(),
               "the data buffer ends at the end of the file");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
    try {
        checkAccepted(sida::parseSafetensorsHeader(file, size, "fuzz.safetensors"), file);
    } catch (const sida::Error&) {
        // Refused with a message: the expected outcome for almost every input.
    }
    return 0;
}
