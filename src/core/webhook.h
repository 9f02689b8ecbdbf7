// Posting a JSON body to a webhook URL (http or https only), with short timeouts.
#pragma once

#include <string>

#include "core/error.h"

namespace lathe {

// kUnavailable with what went wrong (connection, timeout, or the receiver's HTTP status) unless
// the receiver answered 2xx.
Status PostJson(const std::string& url, const std::string& body, long timeout_seconds = 5);

}  // namespace lathe
