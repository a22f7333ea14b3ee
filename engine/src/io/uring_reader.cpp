// SPDX-License-Identifier: MIT
// The io_uring span reader. Built only where liburing was found; elsewhere it reports why not.
#include "io/file_reader.h"

#ifdef SIDA_HAVE_LIBURING

#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

namespace sida::detail {
namespace {

// A span is split into chunks this large, up to kQueueDepth of them in flight per reader thread:
// enough for the disk to stream while small enough that a span of a few MB becomes several
// concurrent requests.
constexpr uint64_t kChunkBytes = 512 * 1024;
constexpr unsigned kQueueDepth = 16;

struct Chunk {
    uint64_t next = 0; ///< the next byte to read, from the span's start
    uint64_t end = 0;  ///< one past the chunk's last byte
    uint64_t need = 0; ///< the chunk is complete once `next` reaches this
};

class UringReader : public SpanReader {
public:
    ~UringReader() override {
        for (auto& ring : idle_) io_uring_queue_exit(ring.get());
    }

    /// A ring, or the error that creating one gave (negative errno).
    static int makeRing(std::unique_ptr<io_uring>& ring) {
        ring = std::make_unique<io_uring>();
        const int result = io_uring_queue_init(kQueueDepth, ring.get(), 0);
        if (result < 0) ring.reset();
        return result;
    }

    void keep(std::unique_ptr<io_uring> ring) {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(ring));
    }

    SpanOutcome read(int fd, std::byte* buffer, uint64_t offset, uint64_t length, uint64_t needed) override {
        std::unique_ptr<io_uring> ring = take();
        if (!ring) return {ENOMEM, false, 0};
        bool ringBroken = false;
        const SpanOutcome outcome = readWith(ring.get(), fd, buffer, offset, length, needed, ringBroken);
        // A ring whose submission or wait failed may still hold requests: closing it cancels them,
        // where reusing it would send them again into another read's buffer.
        if (ringBroken)
            io_uring_queue_exit(ring.get());
        else
            keep(std::move(ring));
        return outcome;
    }

    std::string name() const override { return "io_uring"; }

private:
    // Each reading thread uses its own ring, taken from the idle ones or made.
    std::unique_ptr<io_uring> take() {
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                std::unique_ptr<io_uring> ring = std::move(idle_.back());
                idle_.pop_back();
                return ring;
            }
        }
        std::unique_ptr<io_uring> ring;
        makeRing(ring);
        return ring;
    }

    static SpanOutcome readWith(io_uring* ring, int fd, std::byte* buffer, uint64_t offset, uint64_t length,
                                uint64_t needed, bool& ringBroken) {
        std::vector<Chunk> chunks;
        for (uint64_t start = 0; start < needed; start += kChunkBytes) {
            const uint64_t end = std::min(start + kChunkBytes, length);
            chunks.push_back({start, end, std::min(end, needed)});
        }
        auto submit = [&](size_t i) {
            io_uring_sqe* sqe = io_uring_get_sqe(ring);
            const Chunk& chunk = chunks[i];
            io_uring_prep_read(sqe, fd, buffer + chunk.next, static_cast<unsigned>(chunk.end - chunk.next),
                               offset + chunk.next);
            io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(static_cast<uintptr_t>(i)));
        };
        SpanOutcome outcome;
        size_t unsent = 0;
        unsigned inFlight = 0;
        bool failed = false;
        // After a failure nothing new is sent, but every request in flight is waited for: they
        // write into the caller's buffer.
        while (inFlight > 0 || (!failed && unsent < chunks.size())) {
            for (; !failed && unsent < chunks.size() && inFlight < kQueueDepth; ++unsent, ++inFlight)
                submit(unsent);
            const int submitted = io_uring_submit(ring);
            if (submitted < 0 && submitted != -EINTR && submitted != -EAGAIN) {
                ringBroken = true;
                return {-submitted, false, 0};
            }
            io_uring_cqe* cqe = nullptr;
            const int waited = io_uring_wait_cqe(ring, &cqe);
            if (waited == -EINTR) continue;
            if (waited < 0) {
                ringBroken = true;
                return {-waited, false, 0};
            }
            const auto i = static_cast<size_t>(reinterpret_cast<uintptr_t>(io_uring_cqe_get_data(cqe)));
            const int result = cqe->res;
            io_uring_cqe_seen(ring, cqe);
            --inFlight;
            Chunk& chunk = chunks[i];
            if (result == -EINTR || result == -EAGAIN) {
                submit(i);
                ++inFlight;
            } else if (result < 0) {
                failed = true;
                outcome = {-result, false, 0};
            } else if (result == 0) {
                failed = true;
                outcome = {0, true, chunk.next};
            } else if ((chunk.next += static_cast<uint64_t>(result)) < chunk.need) {
                submit(i); // a short read: the rest of the chunk
                ++inFlight;
            }
        }
        return outcome;
    }

    std::mutex mutex_;
    std::vector<std::unique_ptr<io_uring>> idle_;
};

} // namespace

std::unique_ptr<SpanReader> makeUringReader(std::string* why) {
    std::unique_ptr<io_uring> ring;
    const int result = UringReader::makeRing(ring);
    if (result < 0) {
        if (why) *why = std::strerror(-result);
        return nullptr;
    }
    auto reader = std::make_unique<UringReader>();
    reader->keep(std::move(ring));
    return reader;
}

} // namespace sida::detail

#else

namespace sida::detail {

std::unique_ptr<SpanReader> makeUringReader(std::string* why) {
    if (why) *why = "this build has no io_uring support (liburing was not found when it was configured)";
    return nullptr;
}

} // namespace sida::detail

#endif
