// The runner's HTTP link to the server, on libcurl's multi interface: requests progress while the
// runner waits on the kernel's pipe, and each exchange keeps its connection open between requests.
#pragma once

#include <curl/curl.h>
#include <poll.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lathe::runner {

// The server's answer to one request, or why there was none.
struct HttpAnswer {
    long status = 0;    // 0: no answer, see `error`
    std::string body;   // at most ServerLink::kMaxAnswerBytes
    std::string error;  // transport failure: "Connection refused", "Operation timed out ..."

    bool answered() const { return status != 0; }
    // "HTTP 503: {"error": ...}" or the transport error, for the runner's stderr.
    std::string Describe() const;
};

// One request at a time on a reused libcurl handle. Made by ServerLink, which owns it.
class Exchange {
public:
    Exchange() = default;
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;
    ~Exchange();

    bool in_flight() const { return in_flight_; }

private:
    friend class ServerLink;
    CURL* easy_ = nullptr;
    curl_slist* headers_ = nullptr;
    std::string request_body_;
    std::string answer_body_;
    bool answer_too_large_ = false;
    bool in_flight_ = false;
    char error_[CURL_ERROR_SIZE] = {};
};

// A request that ended, with its answer.
struct FinishedExchange {
    Exchange* exchange;
    HttpAnswer answer;
};

class ServerLink {
public:
    // An answer larger than this is refused: the runner's answers are small JSON documents.
    static constexpr std::size_t kMaxAnswerBytes = 1024 * 1024;

    // `base_url` is the workload's URL (".../api/v2/runner/workloads/{id}"); every request carries
    // `Authorization: Bearer <token>`.
    static Result<std::unique_ptr<ServerLink>> Create(std::string base_url, std::string token);
    ~ServerLink();
    ServerLink(const ServerLink&) = delete;
    ServerLink& operator=(const ServerLink&) = delete;

    const std::string& base_url() const { return base_url_; }

    // A new request slot; it lives as long as the link.
    Exchange& NewExchange();

    // Sends a request for base_url + `path` on `exchange`, which must not be in flight. A
    // non-empty `content_type` makes it a POST of `body`; an empty one a GET.
    Status Start(Exchange& exchange,
                 std::string_view path,
                 std::string body,
                 std::string_view content_type);

    // Waits until a transfer can move, one of `fds` is ready, or `timeout_ms` passes.
    // Readiness of `fds` is not reported back: callers try their non-blocking reads.
    Status Wait(std::span<const pollfd> fds, int timeout_ms);

    // Moves the transfers on and returns the requests that ended.
    std::vector<FinishedExchange> Perform();

private:
    ServerLink(std::string base_url, std::string token, CURLM* multi);
    static std::size_t OnAnswerBytes(char* data, std::size_t size, std::size_t count, void* user);

    std::string base_url_;
    std::string token_;
    CURLM* multi_;
    std::vector<std::unique_ptr<Exchange>> exchanges_;
};

}  // namespace lathe::runner
