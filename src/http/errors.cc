// Error code to HTTP status mapping.
#include "http/errors.h"

namespace lathe::http {

int HttpStatus(ErrorCode code) {
    switch (code) {
        case ErrorCode::kBadRequest: return 400;
        case ErrorCode::kUnauthenticated: return 401;
        case ErrorCode::kPermissionDenied: return 403;
        case ErrorCode::kCsrfFailed: return 403;
        case ErrorCode::kNotFound: return 404;
        case ErrorCode::kMethodNotAllowed: return 405;
        case ErrorCode::kRequestTimeout: return 408;
        case ErrorCode::kConflict: return 409;
        case ErrorCode::kPayloadTooLarge: return 413;
        case ErrorCode::kTooManyRequests: return 429;
        case ErrorCode::kHeadersTooLarge: return 431;
        case ErrorCode::kInternal: return 500;
        case ErrorCode::kUnavailable: return 503;
    }
    return 500;
}

Response ErrorResponse(const Error& error) {
    Response r = Response::Json(
        HttpStatus(error.code),
        {{"error", {{"code", ErrorCodeName(error.code)}, {"message", error.message}}}});
    if (error.retry_after_seconds > 0) {
        r.headers.emplace_back("Retry-After", std::to_string(error.retry_after_seconds));
    }
    if (error.code == ErrorCode::kUnauthenticated) {
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
    }
    return r;
}

}  // namespace lathe::http
