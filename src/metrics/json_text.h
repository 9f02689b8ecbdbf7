// Working on JSON text without parsing it into values: the members of an object as spans, and
// whether a text is compact. The metrics store keeps metrics as compact JSON text and splices it.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace lathe::metrics {

// Appends the members of a JSON object's text to `out` as (raw key with its quotes, raw value)
// spans; false when the text is not an object this scanner understands. Does not validate the
// values: use it on text that is known to be valid JSON.
bool ScanMembers(std::string_view text,
                 std::vector<std::pair<std::string_view, std::string_view>>& out);

// True when valid JSON `text` has no whitespace outside its strings (as compact dumps have).
bool IsCompactJson(std::string_view text);

}  // namespace lathe::metrics
