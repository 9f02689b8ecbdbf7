// Randomness, hashing and encodings (libsodium underneath); secrets never leave as plain logs.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace lathe {

// Initializes libsodium; call once at start (idempotent).
Status InitCrypto();

// `bytes` random bytes, base64url-encoded without padding.
std::string RandomToken(std::size_t bytes);
std::string Base64UrlEncode(std::string_view data);
Result<std::string> Base64UrlDecode(std::string_view text);
std::string HexEncode(std::string_view data);
// SHA-256 of data, hex-encoded (for high-entropy secrets such as API keys and session tokens).
std::string Sha256Hex(std::string_view data);
// A random (version 4) UUID in its canonical text form.
std::string RandomUuid();
// HMAC-SHA-256 of data under key, hex-encoded.
std::string HmacSha256Hex(std::string_view key, std::string_view data);
// Compares two equal-purpose strings in time independent of where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace lathe
