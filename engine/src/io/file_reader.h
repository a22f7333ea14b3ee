// SPDX-License-Identifier: MIT
// Explicit reads of checkpoint bytes, never through a memory mapping: a file that shrinks or
// changes under the engine then gives an error for the read that meets it, not a SIGBUS, and
// the bytes read count in the process's memory only where the engine keeps them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sida::detail {

/// O_DIRECT wants the file offset, the length and the buffer aligned to the logical block size;
/// 4 KiB covers every block size in use.
inline constexpr uint64_t kDirectAlignment = 4096;

/// Bytes [offset, offset + length) of one of a checkpoint's files.
struct FileRange {
    uint32_t file = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
};

/// How a range is read into an aligned buffer: the whole aligned span around it (safetensors
/// offsets are not aligned), the range's bytes starting `dataOffset` bytes in.
struct AlignedSpan {
    uint64_t fileOffset = 0;  ///< the range's offset rounded down
    uint64_t bufferBytes = 0; ///< the range's end rounded up, less fileOffset
    uint64_t dataOffset = 0;  ///< where the range begins inside the buffer
};
AlignedSpan alignedSpan(const FileRange& range);

/// How reading one span of a file ended.
struct SpanOutcome {
    int error = 0;        ///< errno of a failed read; 0 when none failed
    bool ended = false;   ///< the file ended before the span's needed bytes
    uint64_t endedAt = 0; ///< where it ended, from the span's start
};

/// Reads spans of open files into aligned buffers, retrying short reads and EINTR.
class SpanReader {
public:
    virtual ~SpanReader() = default;
    /// Reads [offset, offset + length) of `fd` into `buffer`; only the first `needed` bytes must
    /// arrive (the aligned span may run past the end of the file).
    virtual SpanOutcome read(int fd, std::byte* buffer, uint64_t offset, uint64_t length,
                             uint64_t needed) = 0;
    /// "pread" or "io_uring", for reports.
    virtual std::string name() const = 0;
};

/// pread() on the calling thread: one request per span, the kernel splits it.
std::unique_ptr<SpanReader> makePreadReader();
/// io_uring: each span in chunks submitted together, so one thread keeps several requests queued
/// on the disk. nullptr where io_uring is unavailable (an old kernel, a seccomp filter, a build
/// without liburing), with the reason in `why`.
std::unique_ptr<SpanReader> makeUringReader(std::string* why);

/// How expert bytes are read: `Uring` falls back to pread where io_uring is unavailable.
enum class IoMode { Pread, Uring };
/// "pread" or "uring"; sida::Error naming `what` otherwise.
IoMode parseIoMode(const std::string& text, const std::string& what);

/// Reads ranges of a checkpoint's files. Thread-safe. Errors are sida::Error naming the file and
/// the range: a short read, an I/O error, or a file whose size changed since the model was opened.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    /// Reads `alignedSpan(range)` into `buffer` (kDirectAlignment-aligned, bufferBytes long).
    virtual void read(const FileRange& range, std::byte* buffer) = 0;
    /// How it reads, for reports: "io_uring, O_DIRECT", "pread, buffered".
    virtual std::string description() const = 0;
    /// The file's path, for messages.
    virtual std::string describe(uint32_t file) const = 0;
};

/// The checkpoint's files, read with pread() or io_uring: with O_DIRECT where the filesystem
/// allows it (tmpfs and some others refuse it: buffered reads there).
class FileByteSource : public ByteSource {
public:
    /// `sizes`: each file's size when its header was validated.
    FileByteSource(std::vector<std::filesystem::path> files, std::vector<uint64_t> sizes, bool preferDirect,
                   IoMode mode = IoMode::Pread);
    ~FileByteSource() override;
    FileByteSource(const FileByteSource&) = delete;
    FileByteSource& operator=(const FileByteSource&) = delete;

    void read(const FileRange& range, std::byte* buffer) override;
    /// Names the fallback when io_uring was asked for and is unavailable.
    std::string description() const override;
    std::string describe(uint32_t file) const override;

private:
    std::vector<std::filesystem::path> paths_;
    std::vector<uint64_t> sizes_;
    std::vector<int> descriptors_;
    bool direct_ = false;
    std::unique_ptr<SpanReader> reader_;
    std::string fallback_; ///< why io_uring was asked for and not used
};

} // namespace sida::detail
