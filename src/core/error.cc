// Wire names of error codes.
#include "core/error.h"

namespace lathe {

std::string_view ErrorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::kBadRequest: return "bad_request";
        case ErrorCode::kUnauthenticated: return "unauthenticated";
        case ErrorCode::kPermissionDenied: return "permission_denied";
        case ErrorCode::kCsrfFailed: return "csrf_failed";
        case ErrorCode::kNotFound: return "not_found";
        case ErrorCode::kMethodNotAllowed: return "method_not_allowed";
        case ErrorCode::kRequestTimeout: return "request_timeout";
        case ErrorCode::kConflict: return "conflict";
        case ErrorCode::kPayloadTooLarge: return "payload_too_large";
        case ErrorCode::kTooManyRequests: return "too_many_requests";
        case ErrorCode::kHeadersTooLarge: return "headers_too_large";
        case ErrorCode::kInternal: return "internal";
        case ErrorCode::kUnavailable: return "unavailable";
    }
    return "internal";
}

}  // namespace lathe
