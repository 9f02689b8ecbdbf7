# Turns a text file into a C++ source defining `extern const char SYMBOL[]` (used for openapi.yaml).
file(READ ${IN} CONTENT HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${CONTENT}")
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n#include <cstddef>\nextern const unsigned char ${SYMBOL}[] = {${BYTES} 0x00};\nextern const std::size_t ${SYMBOL}Size = sizeof(${SYMBOL}) - 1;\n")
