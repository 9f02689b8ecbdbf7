// The kernel's output between the pipe and the server: a bounded ring of bytes that knows at
// which log offset its first byte sits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace lathe::runner {

class LogBuffer {
public:
    // The buffer never holds more than `capacity` bytes; memory is taken on first use.
    explicit LogBuffer(std::size_t capacity) : capacity_(capacity) {}

    std::size_t size() const { return size_; }
    std::size_t room() const { return capacity_ - size_; }
    std::size_t capacity() const { return capacity_; }
    // The log offset of the first byte held: everything before it the server has accepted.
    std::uint64_t head_offset() const { return head_offset_; }

    // Contiguous free space after the last byte, for read(2) to fill; empty when full.
    std::span<char> WritableTail();
    // Counts `bytes` written into WritableTail() as held.
    void Commit(std::size_t bytes);
    // Appends as much of `bytes` as fits; returns how much did.
    std::size_t Append(std::string_view bytes);

    // Replaces `out` with up to `max_bytes` from the head.
    void CopyHead(std::size_t max_bytes, std::string& out) const;
    // Forgets the first `bytes` (the server has them); the head offset moves on by as much.
    void Drop(std::size_t bytes);
    // Says the first byte held sits at `offset`, when the server's count disagrees with ours.
    void Rebase(std::uint64_t offset) { head_offset_ = offset; }

private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::uint64_t head_offset_ = 0;
};

}  // namespace lathe::runner
