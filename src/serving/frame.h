// The replica protocol's frames (see PROTOCOL.md): length-prefixed, typed, with a call id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lathe::serving {

enum class FrameType : std::uint8_t {
    kHello = 1,
    kWelcome = 2,
    kRefused = 3,
    kCall = 4,
    kBatch = 5,
    kResult = 6,
    kError = 7,
    kPing = 8,
    kPong = 9,
};

inline constexpr std::size_t kFrameHeaderBytes = 9;  // uint32 length, uint8 type, uint32 id
inline constexpr std::uint32_t kMaxFrameBytes = 64u << 20;

struct Frame {
    FrameType type;
    std::uint32_t id;
    std::string_view payload;  // points into the buffer parsed
};

// Appends one frame to `out`.
void AppendFrame(std::string& out, FrameType type, std::uint32_t id, std::string_view payload);

// Parses the complete frames at the start of `buffer` into `out`; returns the bytes they take
// (an incomplete frame at the end is left for the next read). kBadRequest for an oversized frame
// or an unknown type: the connection is then closed.
Result<std::size_t> ParseFrames(std::string_view buffer, std::vector<Frame>& out);

// A RESULT or ERROR payload: the time inside the function, then (RESULT) meta JSON and body.
struct CallReply {
    std::uint64_t fn_ns = 0;
    std::string_view meta;  // RESULT only; may be empty
    std::string_view body;  // RESULT: response JSON; ERROR: the error JSON
};
Result<CallReply> ParseReply(const Frame& frame);

}  // namespace lathe::serving
