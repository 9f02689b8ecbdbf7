// Password hashing with libsodium's argon2id.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace lathe::auth {

Result<std::string> HashPassword(std::string_view password);
bool VerifyPassword(std::string_view hash, std::string_view password);
// Spends the same time as a real verification, so unknown usernames can't be told apart.
void BurnPasswordCheck(std::string_view password);
// 8 to 1024 characters.
Status ValidatePassword(std::string_view password);

}  // namespace lathe::auth
