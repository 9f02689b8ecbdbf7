// A file built into the binary (the Python SDK tree), written out where workloads can read it.
#pragma once

#include <cstddef>

namespace lathe {

struct EmbeddedFile {
    const char* path;  // relative, e.g. "cdsw/__init__.py"
    const unsigned char* data;
    std::size_t size;
};

}  // namespace lathe
