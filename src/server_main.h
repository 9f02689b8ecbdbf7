// `lathe server`: wires the store, services, API and HTTP server together and runs until stopped.
#pragma once

#include <string>
#include <vector>

namespace lathe {

int RunServer(const std::vector<std::string>& args);

}  // namespace lathe
