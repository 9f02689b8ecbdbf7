// The JSON type of the client: ordered, so --json prints the server's fields in its order.
#pragma once

#include <nlohmann/json.hpp>

namespace lathe::cli {

using Json = nlohmann::ordered_json;

}  // namespace lathe::cli
