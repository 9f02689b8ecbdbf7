// Reads a model call's body without building a JSON tree.
#include "serving/call_body.h"

#include <cctype>

namespace lathe::serving {
namespace {

constexpr int kMaxDepth = 512;

class Scanner {
public:
    explicit Scanner(std::string_view text) : text_(text) {}

    std::size_t pos() const { return pos_; }
    bool AtEnd() {
        SkipSpace();
        return pos_ == text_.size();
    }

    void SkipSpace() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    bool Consume(char c) {
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    // A string token; `out`, when given, gets its decoded value (escapes other than \uXXXX
    // decoded; access keys and member names are plain ASCII in practice).
    bool String(std::string* out) {
        SkipSpace();
        if (pos_ >= text_.size() || text_[pos_] != '"') {
            return false;
        }
        ++pos_;
        while (pos_ < text_.size()) {
            const char c = text_[pos_++];
            if (c == '"') {
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return false;
            }
            if (c != '\\') {
                if (out) {
                    out->push_back(c);
                }
                continue;
            }
            if (pos_ >= text_.size()) {
                return false;
            }
            const char e = text_[pos_++];
            switch (e) {
                case '"': case '\\': case '/':
                    if (out) out->push_back(e);
                    break;
                case 'b': if (out) out->push_back('\b'); break;
                case 'f': if (out) out->push_back('\f'); break;
                case 'n': if (out) out->push_back('\n'); break;
                case 'r': if (out) out->push_back('\r'); break;
                case 't': if (out) out->push_back('\t'); break;
                case 'u':
                    for (int i = 0; i < 4; ++i) {
                        if (pos_ >= text_.size() || !std::isxdigit(static_cast<unsigned char>(text_[pos_]))) {
                            return false;
                        }
                        ++pos_;
                    }
                    if (out) out->append("\\u" + std::string(text_.substr(pos_ - 4, 4)));
                    break;
                default:
                    return false;
            }
        }
        return false;
    }

    // Any value; returns false on malformed input.
    bool Value(int depth) {
        if (depth > kMaxDepth) {
            return false;
        }
        SkipSpace();
        if (pos_ >= text_.size()) {
            return false;
        }
        const char c = text_[pos_];
        if (c == '"') {
            return String(nullptr);
        }
        if (c == '{') {
            ++pos_;
            if (Consume('}')) {
                return true;
            }
            do {
                if (!String(nullptr) || !Consume(':') || !Value(depth + 1)) {
                    return false;
                }
            } while (Consume(','));
            return Consume('}');
        }
        if (c == '[') {
            ++pos_;
            if (Consume(']')) {
                return true;
            }
            do {
                if (!Value(depth + 1)) {
                    return false;
                }
            } while (Consume(','));
            return Consume(']');
        }
        for (std::string_view literal : {"true", "false", "null"}) {
            if (text_.substr(pos_, literal.size()) == literal) {
                pos_ += literal.size();
                return true;
            }
        }
        return Number();
    }

private:
    bool Digits() {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            ++pos_;
        }
        return pos_ > start;
    }

    bool Number() {
        if (pos_ < text_.size() && text_[pos_] == '-') {
            ++pos_;
        }
        if (pos_ < text_.size() && text_[pos_] == '0') {
            ++pos_;
        } else if (!Digits()) {
            return false;
        }
        if (pos_ < text_.size() && text_[pos_] == '.') {
            ++pos_;
            if (!Digits()) {
                return false;
            }
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
                ++pos_;
            }
            if (!Digits()) {
                return false;
            }
        }
        return true;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

Error Malformed(const Scanner& s) {
    return Error{ErrorCode::kBadRequest,
                 "the body is not valid JSON (near byte " + std::to_string(s.pos()) +
                     "); send {\"accessKey\": \"...\", \"request\": {...}}"};
}

}  // namespace

Result<CallBody> ParseCallBody(std::string_view body) {
    Scanner s(body);
    if (!s.Consume('{')) {
        return MakeError(ErrorCode::kBadRequest,
                         "the body must be a JSON object: {\"accessKey\": \"...\", \"request\": "
                         "{...}}");
    }
    CallBody out;
    if (!s.Consume('}')) {
        do {
            std::string key;
            if (!s.String(&key) || !s.Consume(':')) {
                return std::unexpected(Malformed(s));
            }
            s.SkipSpace();
            const std::size_t start = s.pos();
            if (key == "accessKey") {
                std::string value;
                if (s.String(&value)) {
                    out.access_key = std::move(value);
                    continue;
                }
            }
            if (!s.Value(1)) {
                return std::unexpected(Malformed(s));
            }
            if (key == "request") {
                out.request = body.substr(start, s.pos() - start);
            }
        } while (s.Consume(','));
        if (!s.Consume('}')) {
            return std::unexpected(Malformed(s));
        }
    }
    if (!s.AtEnd()) {
        return std::unexpected(Malformed(s));
    }
    return out;
}

}  // namespace lathe::serving
