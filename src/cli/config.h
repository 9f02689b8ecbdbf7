// Where the client keeps its login (server URL, username, API key) and how it reads and writes it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "cli/cli_error.h"

namespace lathe::cli {

struct StoredLogin {
    std::string url;
    std::string username;
    std::string api_key;
};

// $LATHE_CONFIG_DIR, else $XDG_CONFIG_HOME/lathe, else ~/.config/lathe.
std::filesystem::path ConfigDirectory();
std::filesystem::path ConfigFilePath();

// Reads the stored login; nullopt when there is none. A file that exists but cannot be read or
// parsed is an error rather than "not logged in", so a broken file is noticed.
Result<std::optional<StoredLogin>> LoadLogin();

// Writes the login atomically (a 0600 temporary file renamed over the old one) into a 0700
// directory, so the API key is never readable by other users, not even for a moment.
Result<void> SaveLogin(const StoredLogin& login);

// Deletes the stored login; no file is not an error.
Result<void> RemoveLogin();

}  // namespace lathe::cli
