// The kernel's output between the pipe and the server: a bounded ring of bytes.
#include "runner/log_buffer.h"

#include <algorithm>
#include <cstring>

namespace lathe::runner {

std::span<char> LogBuffer::WritableTail() {
    if (size_ == capacity_) {
        return {};
    }
    if (!data_) {
        data_ = std::make_unique_for_overwrite<char[]>(capacity_);
    }
    std::size_t tail = head_ + size_;
    if (tail >= capacity_) {
        tail -= capacity_;
        return {data_.get() + tail, head_ - tail};
    }
    return {data_.get() + tail, capacity_ - tail};
}

void LogBuffer::Commit(std::size_t bytes) {
    size_ += std::min(bytes, room());
}

std::size_t LogBuffer::Append(std::string_view bytes) {
    std::size_t appended = 0;
    while (appended < bytes.size()) {
        std::span<char> tail = WritableTail();
        if (tail.empty()) {
            break;
        }
        std::size_t n = std::min(tail.size(), bytes.size() - appended);
        std::memcpy(tail.data(), bytes.data() + appended, n);
        Commit(n);
        appended += n;
    }
    return appended;
}

void LogBuffer::CopyHead(std::size_t max_bytes, std::string& out) const {
    std::size_t n = std::min(max_bytes, size_);
    out.resize(n);
    if (n == 0) {
        return;
    }
    std::size_t first = std::min(n, capacity_ - head_);
    std::memcpy(out.data(), data_.get() + head_, first);
    std::memcpy(out.data() + first, data_.get(), n - first);
}

void LogBuffer::Drop(std::size_t bytes) {
    bytes = std::min(bytes, size_);
    head_ += bytes;
    if (head_ >= capacity_) {
        head_ -= capacity_;
    }
    size_ -= bytes;
    head_offset_ += bytes;
    if (size_ == 0) {
        head_ = 0;  // a quiet kernel keeps reusing the first pages instead of touching them all
    }
}

}  // namespace lathe::runner
