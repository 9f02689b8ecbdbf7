// The replica protocol's frames.
#include "serving/frame.h"

namespace lathe::serving {
namespace {

void PutU32(std::string& out, std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 4);
}

std::uint32_t GetU32(const char* p) {
    auto u = [p](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])); };
    return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

}  // namespace

void AppendFrame(std::string& out, FrameType type, std::uint32_t id, std::string_view payload) {
    PutU32(out, static_cast<std::uint32_t>(payload.size() + 5));
    out.push_back(static_cast<char>(type));
    PutU32(out, id);
    out.append(payload);
}

Result<std::size_t> ParseFrames(std::string_view buffer, std::vector<Frame>& out) {
    std::size_t pos = 0;
    while (buffer.size() - pos >= kFrameHeaderBytes) {
        const std::uint32_t length = GetU32(buffer.data() + pos);
        if (length < 5 || length > kMaxFrameBytes) {
            return MakeError(ErrorCode::kBadRequest,
                             "frame length " + std::to_string(length) + " is out of range");
        }
        if (buffer.size() - pos < 4 + static_cast<std::size_t>(length)) {
            break;
        }
        const auto type = static_cast<std::uint8_t>(buffer[pos + 4]);
        if (type < 1 || type > 9) {
            return MakeError(ErrorCode::kBadRequest, "unknown frame type " + std::to_string(type));
        }
        out.push_back({static_cast<FrameType>(type), GetU32(buffer.data() + pos + 5),
                       buffer.substr(pos + kFrameHeaderBytes, length - 5)});
        pos += 4 + length;
    }
    return pos;
}

Result<CallReply> ParseReply(const Frame& frame) {
    CallReply r;
    std::string_view p = frame.payload;
    if (p.size() < 8) {
        return MakeError(ErrorCode::kBadRequest, "a reply frame is shorter than its header");
    }
    r.fn_ns = (static_cast<std::uint64_t>(GetU32(p.data())) << 32) | GetU32(p.data() + 4);
    p.remove_prefix(8);
    if (frame.type == FrameType::kResult) {
        if (p.size() < 4) {
            return MakeError(ErrorCode::kBadRequest, "a result frame has no meta length");
        }
        const std::uint32_t meta_len = GetU32(p.data());
        p.remove_prefix(4);
        if (meta_len > p.size()) {
            return MakeError(ErrorCode::kBadRequest, "a result frame's meta is longer than it");
        }
        r.meta = p.substr(0, meta_len);
        p.remove_prefix(meta_len);
    }
    r.body = p;
    return r;
}

}  // namespace lathe::serving
