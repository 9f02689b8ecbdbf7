// argon2id password hashes (libsodium's interactive limits: ~64 MiB, a fraction of a second).
#include "auth/password.h"

#include <sodium.h>

namespace lathe::auth {

Result<std::string> HashPassword(std::string_view password) {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return MakeError(ErrorCode::kUnavailable, "out of memory while hashing a password");
    }
    return std::string(out);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
    std::string h(hash);  // needs a NUL-terminated string
    return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

void BurnPasswordCheck(std::string_view password) {
    static const std::string kDummy = [] {
        auto h = HashPassword("not-a-real-password");
        return h ? *h : std::string();
    }();
    (void)VerifyPassword(kDummy, password);
}

Status ValidatePassword(std::string_view password) {
    if (password.size() < 8) {
        return MakeError(ErrorCode::kBadRequest, "password must be at least 8 characters");
    }
    if (password.size() > 1024) {
        return MakeError(ErrorCode::kBadRequest, "password must be at most 1024 characters");
    }
    return {};
}

}  // namespace lathe::auth
