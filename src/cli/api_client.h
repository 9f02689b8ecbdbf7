// HTTP client for the Lathe API on libcurl: JSON calls, streamed transfers, error mapping.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/cli_error.h"
#include "cli/json.h"

namespace lathe::cli {

enum class HttpMethod { kGet, kPost, kPut, kPatch, kDelete };

struct HttpResponse {
    long status = 0;
    std::string body;
    // Names lower-cased, in the order received; only the final response's headers (not 100's).
    std::vector<std::pair<std::string, std::string>> headers;

    // The first header called `name` (lower case), or "" when absent.
    std::string Header(std::string_view name) const;
};

// Reports transfer progress: bytes done and the total (0 while unknown).
using ProgressCallback = std::function<void(std::uint64_t done, std::uint64_t total)>;

// One connection to one server, reused across requests. Not thread-safe: the CLI is one thread.
class ApiClient {
public:
    // `base_url` as returned by NormalizeServerUrl.
    static Result<std::unique_ptr<ApiClient>> Create(std::string base_url);
    ~ApiClient();
    ApiClient(const ApiClient&) = delete;
    ApiClient& operator=(const ApiClient&) = delete;

    const std::string& base_url() const { return base_url_; }

    // Authenticate with an API key (scripts, the CLI after login).
    void SetApiKey(std::string key) { api_key_ = std::move(key); }
    // Authenticate with a browser session, as `lathe login` does just long enough to make a key.
    void SetSession(std::string cookie, std::string csrf_token);

    // Sends a request (with `body` as JSON when given) and returns the parsed JSON answer (null
    // for an empty one, e.g. 204). A non-2xx answer becomes the CliError the server's body
    // describes.
    Result<Json> Call(HttpMethod method, std::string_view target, const Json* body = nullptr);
    // Like Call, but returns the whole response, for callers that need headers (login's cookie).
    Result<HttpResponse> Send(HttpMethod method,
                              std::string_view target,
                              const Json* body = nullptr);

    // PUTs `size` bytes read from `source` as the request body, streaming it.
    Result<Json> Upload(std::string_view target,
                        std::FILE* source,
                        std::uint64_t size,
                        const ProgressCallback& progress);

    // GETs `target` and streams a 2xx body into `sink`; `sink_name` names it in error messages.
    Result<void> Download(std::string_view target,
                          std::FILE* sink,
                          std::string_view sink_name,
                          const ProgressCallback& progress);

private:
    struct Transfer;

    ApiClient(std::string base_url, CURL* curl);
    Result<HttpResponse> Perform(const Transfer& transfer);

    std::string base_url_;
    CURL* curl_;
    // libcurl keeps a pointer to it for as long as the handle lives, so it lives as long.
    char error_buffer_[CURL_ERROR_SIZE] = {};
    std::string api_key_;
    std::string session_cookie_;
    std::string csrf_token_;
};

// Checks a server URL typed by the user and strips trailing slashes.
Result<std::string> NormalizeServerUrl(std::string_view url);

// Percent-encodes everything but RFC 3986 unreserved characters; with keep_slash, '/' too is
// kept, so a project file path stays readable while ':' (the action separator) is escaped.
std::string PercentEncode(std::string_view text, bool keep_slash = false);

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// "?name=value&..." with encoded values; pairs with an empty value are left out; "" when none.
std::string QueryString(const QueryParams& params);

// A list endpoint's items, gathered from one page or from all of them.
struct ListPage {
    Json items = Json::array();
    std::string next_page_token;  // "" when the last page was read
};

// GETs `path` with `params` and collects the `items_key` array, following next_page_token
// until the last page when `all_pages`. An answer without `items_key` is an error.
Result<ListPage> FetchList(ApiClient& client,
                           std::string_view path,
                           std::string_view items_key,
                           QueryParams params,
                           bool all_pages);

// The CliError describing a non-2xx answer, from its {"error": {"code", "message"}} body.
CliError ErrorFromResponse(const HttpResponse& response);

}  // namespace lathe::cli
