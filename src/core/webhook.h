// HTTP requests with a JSON body to a configured receiver (http or https only), with short
// timeouts: webhook POSTs, and exports that need headers, credentials and the status code.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/error.h"

namespace lathe {

// kUnavailable with what went wrong (connection, timeout, or the receiver's HTTP status) unless
// the receiver answered 2xx.
Status PostJson(const std::string& url, const std::string& body, long timeout_seconds = 5);

struct HttpRequest {
    std::string method = "POST";  // POST or PUT
    std::string url;
    std::string body;                  // sent as application/json
    std::vector<std::string> headers;  // extra "Name: value" lines
    // HTTP basic authentication when basic_user is not empty.
    std::string basic_user;
    std::string basic_password;
    long timeout_seconds = 10;
    // When set and it becomes true, a request under way is abandoned (server shutdown).
    const std::atomic<bool>* cancel = nullptr;
};

struct HttpReply {
    long status = 0;
    std::string body;  // the first 4 KiB, for error messages
};

// The receiver's answer whatever its status; kUnavailable only when no answer came (cannot
// connect, timed out, cancelled). The message never contains the URL or the credentials.
Result<HttpReply> SendJson(const HttpRequest& request);

}  // namespace lathe
