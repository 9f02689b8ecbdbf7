// Error values shared by every module: Result<T> and Status, and the macros that propagate them.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace lathe {

// What went wrong, in terms a caller can act on; http/ maps each code to one HTTP status.
enum class ErrorCode {
    kBadRequest,
    kUnauthenticated,
    kPermissionDenied,
    kCsrfFailed,
    kNotFound,
    kMethodNotAllowed,
    kRequestTimeout,
    kConflict,
    kPayloadTooLarge,
    kTooManyRequests,
    kHeadersTooLarge,
    kInternal,
    kUnavailable,
};

struct Error {
    ErrorCode code;
    std::string message;
    int retry_after_seconds = 0;  // kTooManyRequests / kUnavailable: when to try again
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
    return std::unexpected(Error{code, std::move(message)});
}

// The wire name of a code ("not_found"), used in every error body.
std::string_view ErrorCodeName(ErrorCode code);

}  // namespace lathe

#define LATHE_CONCAT_INNER(a, b) a##b
#define LATHE_CONCAT(a, b) LATHE_CONCAT_INNER(a, b)

// Returns the error of a Status/Result expression from the enclosing function.
#define RETURN_IF_ERROR(expr)                                   \
    do {                                                        \
        if (auto _st = (expr); !_st) {                          \
            return std::unexpected(std::move(_st).error());     \
        }                                                       \
    } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)            \
    auto tmp = (expr);                                   \
    if (!tmp) {                                          \
        return std::unexpected(std::move(tmp).error());  \
    }                                                    \
    lhs = std::move(*tmp)

// `ASSIGN_OR_RETURN(auto x, Compute());` binds the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(LATHE_CONCAT(_res_, __LINE__), lhs, expr)
