// Reads a model call's body, {"accessKey": "...", "request": <any JSON>}, without building a
// JSON tree: the request's text goes to the replica as it came (no parse, no re-serialization).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lathe::serving {

struct CallBody {
    std::optional<std::string> access_key;   // absent: take it from the query string
    std::optional<std::string_view> request;  // the value's exact text, a view into the body
};

// kBadRequest when the body is not a JSON object (with a message saying where it went wrong).
// Values are checked for well-formed JSON structure (strings, numbers, literals, nesting up to
// 512 deep); other members are skipped; a repeated key keeps its last value, as JSON parsers do.
Result<CallBody> ParseCallBody(std::string_view body);

}  // namespace lathe::serving
