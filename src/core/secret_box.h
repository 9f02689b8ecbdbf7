// Authenticated encryption of secrets at rest (libsodium secretbox) with a key file in the data dir.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lathe {

class SecretBox {
public:
    // Loads the key file, creating it (0600) with a fresh random key if it does not exist.
    static Result<SecretBox> OpenOrCreate(const std::filesystem::path& key_file);
    // Returns base64url(nonce || ciphertext).
    std::string Seal(std::string_view plaintext) const;
    Result<std::string> Open(std::string_view sealed) const;

private:
    std::string key_;
};

}  // namespace lathe
