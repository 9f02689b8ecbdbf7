// Scanning JSON text: object members as spans, compactness.
#include "metrics/json_text.h"

namespace lathe::metrics {

bool ScanMembers(std::string_view text,
                 std::vector<std::pair<std::string_view, std::string_view>>& out) {
    std::size_t i = 0;
    auto skip_ws = [&] {
        while (i < text.size() &&
               (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r')) {
            ++i;
        }
    };
    auto skip_string = [&]() -> bool {  // at the opening quote
        for (++i; i < text.size(); ++i) {
            if (text[i] == '\\') {
                ++i;
            } else if (text[i] == '"') {
                ++i;
                return true;
            }
        }
        return false;
    };
    skip_ws();
    if (i >= text.size() || text[i] != '{') {
        return false;
    }
    ++i;
    skip_ws();
    if (i < text.size() && text[i] == '}') {
        return true;
    }
    while (i < text.size()) {
        skip_ws();
        if (i >= text.size() || text[i] != '"') {
            return false;
        }
        const std::size_t key_start = i;
        if (!skip_string()) {
            return false;
        }
        const std::string_view key = text.substr(key_start, i - key_start);
        skip_ws();
        if (i >= text.size() || text[i] != ':') {
            return false;
        }
        ++i;
        skip_ws();
        const std::size_t value_start = i;
        int depth = 0;
        while (i < text.size()) {
            const char c = text[i];
            if (c == '"') {
                if (!skip_string()) {
                    return false;
                }
                continue;
            }
            if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (depth == 0) {
                    break;
                }
                --depth;
            } else if (c == ',' && depth == 0) {
                break;
            }
            ++i;
        }
        if (i >= text.size()) {
            return false;
        }
        std::size_t value_end = i;
        while (value_end > value_start &&
               (text[value_end - 1] == ' ' || text[value_end - 1] == '\n')) {
            --value_end;
        }
        out.emplace_back(key, text.substr(value_start, value_end - value_start));
        if (text[i] == '}') {
            return true;
        }
        ++i;  // the comma
    }
    return false;
}

bool IsCompactJson(std::string_view text) {
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            return false;
        }
    }
    return true;
}

}  // namespace lathe::metrics
