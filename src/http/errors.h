// The one mapping from error codes to HTTP statuses, and the one error body shape.
#pragma once

#include "core/error.h"
#include "http/message.h"

namespace lathe::http {

int HttpStatus(ErrorCode code);
// {"error": {"code": "...", "message": "..."}} with the matching status.
Response ErrorResponse(const Error& error);

}  // namespace lathe::http
