// Errors of the command-line client and the exit code each one ends the process with.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace lathe::cli {

// The process exit codes are part of the CLI's contract with scripts: keep them stable.
enum class ExitCode : int {
    kOk = 0,
    kFailure = 1,           // the server refused the request, or it could not be made
    kUsage = 2,             // bad command line
    kUnauthenticated = 3,   // not logged in, or the server answered 401
    kNotFound = 4,          // 404
    kPermissionDenied = 5,  // 403
};

struct CliError {
    ExitCode exit_code = ExitCode::kFailure;
    std::string message;
    // A second line telling the user what to do next (may be empty).
    std::string hint;
};

template <typename T>
using Result = std::expected<T, CliError>;

inline std::unexpected<CliError> Fail(ExitCode code, std::string message, std::string hint = {}) {
    return std::unexpected(CliError{code, std::move(message), std::move(hint)});
}

inline std::unexpected<CliError> UsageError(std::string message, std::string usage = {}) {
    return Fail(ExitCode::kUsage, std::move(message), std::move(usage));
}

// Propagates the error of a Result<T> expression; otherwise yields nothing.
#define LATHE_CLI_RETURN_IF_ERROR(expr)                                   \
    do {                                                                  \
        if (auto lathe_cli_result_ = (expr); !lathe_cli_result_) {        \
            return std::unexpected(std::move(lathe_cli_result_).error()); \
        }                                                                 \
    } while (false)

}  // namespace lathe::cli
