// HTTP client for the Lathe API on libcurl: JSON calls, streamed transfers, error mapping.
#include "cli/api_client.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace lathe::cli {
namespace {

// Connecting is quick or never; a transfer may be long but must keep moving.
constexpr long kConnectTimeoutSeconds = 10;
constexpr long kLowSpeedBytesPerSecond = 1;
constexpr long kLowSpeedWindowSeconds = 60;
// An error body is a small JSON document; anything past this is noise we do not need to keep.
constexpr std::size_t kMaxErrorBodyBytes = 64 * 1024;

std::string ToLower(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

std::string_view Trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

const char* MethodName(HttpMethod method) {
    switch (method) {
        case HttpMethod::kGet:
            return "GET";
        case HttpMethod::kPost:
            return "POST";
        case HttpMethod::kPut:
            return "PUT";
        case HttpMethod::kPatch:
            return "PATCH";
        case HttpMethod::kDelete:
            return "DELETE";
    }
    return "GET";
}

// Frees the header list however Perform returns.
struct HeaderList {
    curl_slist* list = nullptr;
    ~HeaderList() { curl_slist_free_all(list); }
    void Add(const std::string& header) { list = curl_slist_append(list, header.c_str()); }
};

// State shared with the libcurl callbacks during one request.
struct CallbackState {
    CURL* curl = nullptr;
    HttpResponse* response = nullptr;
    std::FILE* upload = nullptr;
    std::FILE* sink = nullptr;
    int sink_errno = 0;
    int upload_errno = 0;
    bool uploading = false;
    const ProgressCallback* progress = nullptr;
};

std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
    auto* state = static_cast<CallbackState*>(user);
    const std::size_t bytes = size * count;
    std::string_view line(data, bytes);
    // Each status line starts a new response (a "100 Continue" comes before the real one).
    if (line.starts_with("HTTP/")) {
        state->response->headers.clear();
        return bytes;
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        state->response->headers.emplace_back(ToLower(Trim(line.substr(0, colon))),
                                              std::string(Trim(line.substr(colon + 1))));
    }
    return bytes;
}

std::size_t OnWrite(char* data, std::size_t size, std::size_t count, void* user) {
    auto* state = static_cast<CallbackState*>(user);
    const std::size_t bytes = size * count;
    if (state->sink != nullptr) {
        long status = 0;
        curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            if (std::fwrite(data, 1, bytes, state->sink) != bytes) {
                state->sink_errno = errno != 0 ? errno : EIO;
                return 0;  // anything but `bytes` makes libcurl stop with CURLE_WRITE_ERROR
            }
            return bytes;
        }
        // An error answer to a download: keep its head to read the error from.
        std::string& body = state->response->body;
        body.append(
            data, std::min(bytes, kMaxErrorBodyBytes - std::min(body.size(), kMaxErrorBodyBytes)));
        return bytes;
    }
    state->response->body.append(data, bytes);
    return bytes;
}

std::size_t OnRead(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* state = static_cast<CallbackState*>(user);
    std::size_t got = std::fread(buffer, 1, size * count, state->upload);
    if (got == 0 && std::ferror(state->upload)) {
        state->upload_errno = errno != 0 ? errno : EIO;
        return CURL_READFUNC_ABORT;
    }
    return got;
}

int OnProgress(
    void* user, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total, curl_off_t ul_now) {
    auto* state = static_cast<CallbackState*>(user);
    if (state->uploading) {
        (*state->progress)(static_cast<std::uint64_t>(ul_now),
                           static_cast<std::uint64_t>(ul_total));
    } else {
        (*state->progress)(static_cast<std::uint64_t>(dl_now),
                           static_cast<std::uint64_t>(dl_total));
    }
    return 0;
}

bool IsConnectError(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            return true;
        default:
            return false;
    }
}

std::string ShortBodyText(const std::string& body) {
    std::string_view text = Trim(body);
    if (text.empty() || text.size() > 200 || text.find('<') != std::string_view::npos) {
        return {};  // HTML pages from proxies would only clutter the message
    }
    return std::string(text);
}

}  // namespace

// Everything one request needs; the pointers outlive the call to Perform.
struct ApiClient::Transfer {
    HttpMethod method = HttpMethod::kGet;
    std::string_view target;
    const std::string* json_body = nullptr;
    std::FILE* upload = nullptr;
    std::uint64_t upload_size = 0;
    std::FILE* sink = nullptr;
    std::string_view sink_name;
    const ProgressCallback* progress = nullptr;
};

std::string HttpResponse::Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key == name) {
            return value;
        }
    }
    return {};
}

Result<std::unique_ptr<ApiClient>> ApiClient::Create(std::string base_url) {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        return Fail(ExitCode::kFailure, "cannot initialise libcurl");
    }
    return std::unique_ptr<ApiClient>(new ApiClient(std::move(base_url), curl));
}

ApiClient::ApiClient(std::string base_url, CURL* curl)
    : base_url_(std::move(base_url)), curl_(curl) {}

ApiClient::~ApiClient() {
    curl_easy_cleanup(curl_);
}

void ApiClient::SetSession(std::string cookie, std::string csrf_token) {
    session_cookie_ = std::move(cookie);
    csrf_token_ = std::move(csrf_token);
}

Result<HttpResponse> ApiClient::Perform(const Transfer& transfer) {
    // Reset keeps the open connection, so a command's requests share one TCP (and TLS) session.
    curl_easy_reset(curl_);
    HttpResponse response;
    CallbackState state;
    state.curl = curl_;
    state.response = &response;
    state.upload = transfer.upload;
    state.sink = transfer.sink;
    state.uploading = transfer.upload != nullptr;
    state.progress = transfer.progress;

    const std::string url = base_url_ + std::string(transfer.target);
    error_buffer_[0] = '\0';
    HeaderList headers;
    headers.Add("Accept: application/json");
    if (!api_key_.empty()) {
        headers.Add("Authorization: Bearer " + api_key_);
    }
    if (!session_cookie_.empty()) {
        headers.Add("Cookie: " + session_cookie_);
        if (transfer.method != HttpMethod::kGet) {
            headers.Add("X-CSRF-Token: " + csrf_token_);
        }
    }

    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "lathe-cli");
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytesPerSecond);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, kLowSpeedWindowSeconds);
    // The server must see ".." as typed and refuse it, not a path libcurl resolved for it.
    curl_easy_setopt(curl_, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &state);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, OnWrite);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &state);
    if (transfer.progress != nullptr && *transfer.progress) {
        curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, OnProgress);
        curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &state);
    }

    if (transfer.upload != nullptr) {
        headers.Add("Content-Type: application/octet-stream");
        curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl_, CURLOPT_READFUNCTION, OnRead);
        curl_easy_setopt(curl_, CURLOPT_READDATA, &state);
        curl_easy_setopt(curl_, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(transfer.upload_size));
    } else if (transfer.json_body != nullptr) {
        headers.Add("Content-Type: application/json");
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, transfer.json_body->c_str());
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(transfer.json_body->size()));
    } else if (transfer.method == HttpMethod::kPost) {
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
    }
    if (transfer.method == HttpMethod::kGet) {
        curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else if (transfer.method != HttpMethod::kPost &&
               !(transfer.method == HttpMethod::kPut && transfer.upload != nullptr)) {
        curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, MethodName(transfer.method));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers.list);

    CURLcode code = curl_easy_perform(curl_);
    if (code != CURLE_OK) {
        if (code == CURLE_WRITE_ERROR && state.sink_errno != 0) {
            return Fail(ExitCode::kFailure, "cannot write " + std::string(transfer.sink_name) +
                                                ": " + std::strerror(state.sink_errno));
        }
        if (code == CURLE_ABORTED_BY_CALLBACK && state.upload_errno != 0) {
            return Fail(ExitCode::kFailure, "cannot read the file to upload: " +
                                                std::string(std::strerror(state.upload_errno)));
        }
        std::string detail = error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(code);
        // A timeout before the connection was made is a connect failure; after it, a stall.
        curl_off_t connect_time = 0;
        curl_easy_getinfo(curl_, CURLINFO_CONNECT_TIME_T, &connect_time);
        if (IsConnectError(code) || (code == CURLE_OPERATION_TIMEDOUT && connect_time == 0)) {
            return Fail(ExitCode::kFailure, "cannot reach " + base_url_ + ": " + detail);
        }
        return Fail(ExitCode::kFailure,
                    std::string(MethodName(transfer.method)) + " " + url + " failed: " + detail);
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

Result<HttpResponse> ApiClient::Send(HttpMethod method, std::string_view target, const Json* body) {
    std::string body_text;
    Transfer transfer;
    transfer.method = method;
    transfer.target = target;
    if (body != nullptr) {
        body_text = body->dump();
        transfer.json_body = &body_text;
    }
    return Perform(transfer);
}

namespace {

Result<Json> JsonFromResponse(const HttpResponse& response) {
    if (response.status < 200 || response.status >= 300) {
        return std::unexpected(ErrorFromResponse(response));
    }
    if (Trim(response.body).empty()) {
        return Json();
    }
    Json doc = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return Fail(ExitCode::kFailure,
                    "the server's answer is not JSON (is the URL a Lathe server?)");
    }
    return doc;
}

}  // namespace

Result<Json> ApiClient::Call(HttpMethod method, std::string_view target, const Json* body) {
    Result<HttpResponse> response = Send(method, target, body);
    if (!response) {
        return std::unexpected(std::move(response).error());
    }
    return JsonFromResponse(*response);
}

Result<Json> ApiClient::Upload(std::string_view target,
                               std::FILE* source,
                               std::uint64_t size,
                               const ProgressCallback& progress) {
    Transfer transfer;
    transfer.method = HttpMethod::kPut;
    transfer.target = target;
    transfer.upload = source;
    transfer.upload_size = size;
    transfer.progress = &progress;
    Result<HttpResponse> response = Perform(transfer);
    if (!response) {
        return std::unexpected(std::move(response).error());
    }
    return JsonFromResponse(*response);
}

Result<void> ApiClient::Download(std::string_view target,
                                 std::FILE* sink,
                                 std::string_view sink_name,
                                 const ProgressCallback& progress) {
    Transfer transfer;
    transfer.method = HttpMethod::kGet;
    transfer.target = target;
    transfer.sink = sink;
    transfer.sink_name = sink_name;
    transfer.progress = &progress;
    Result<HttpResponse> response = Perform(transfer);
    if (!response) {
        return std::unexpected(std::move(response).error());
    }
    if (response->status < 200 || response->status >= 300) {
        return std::unexpected(ErrorFromResponse(*response));
    }
    return {};
}

Result<std::string> NormalizeServerUrl(std::string_view url) {
    std::string_view trimmed = Trim(url);
    std::string lower = ToLower(trimmed);
    if (!lower.starts_with("http://") && !lower.starts_with("https://")) {
        return UsageError("the server URL must start with http:// or https://, not '" +
                          std::string(url) + "'");
    }
    if (trimmed.find_first_of("?# ") != std::string_view::npos) {
        return UsageError("the server URL must not contain a query, a fragment or spaces: '" +
                          std::string(url) + "'");
    }
    while (trimmed.ends_with('/')) {
        trimmed.remove_suffix(1);
    }
    std::size_t scheme_end = lower.find("://") + 3;
    if (trimmed.size() <= scheme_end) {
        return UsageError("the server URL has no host: '" + std::string(url) + "'");
    }
    return std::string(trimmed);
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string encoded;
    encoded.reserve(text.size());
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (keep_slash && c == '/')) {
            encoded.push_back(static_cast<char>(c));
        } else {
            encoded.push_back('%');
            encoded.push_back(kHex[c >> 4]);
            encoded.push_back(kHex[c & 0xF]);
        }
    }
    return encoded;
}

std::string QueryString(const QueryParams& params) {
    std::string query;
    for (const auto& [name, value] : params) {
        if (value.empty()) {
            continue;
        }
        query += query.empty() ? '?' : '&';
        query += PercentEncode(name);
        query += '=';
        query += PercentEncode(value);
    }
    return query;
}

Result<ListPage> FetchList(ApiClient& client,
                           std::string_view path,
                           std::string_view items_key,
                           QueryParams params,
                           bool all_pages) {
    ListPage list;
    std::string token;
    for (;;) {
        QueryParams page_params = params;
        page_params.emplace_back("page_token", token);
        Result<Json> page =
            client.Call(HttpMethod::kGet, std::string(path) + QueryString(page_params));
        if (!page) {
            return std::unexpected(std::move(page).error());
        }
        auto items = page->find(items_key);
        if (!page->is_object() || items == page->end() || !items->is_array()) {
            return Fail(ExitCode::kFailure,
                        "the server's answer has no \"" + std::string(items_key) + "\" list");
        }
        for (auto& item : *items) {
            list.items.push_back(std::move(item));
        }
        auto next = page->find("next_page_token");
        std::string next_token =
            next != page->end() && next->is_string() ? next->get<std::string>() : std::string();
        // A token that does not move on would loop forever; treat it as the end.
        if (next_token.empty() || next_token == token || !all_pages) {
            list.next_page_token = next_token == token ? std::string() : next_token;
            return list;
        }
        token = std::move(next_token);
    }
}

CliError ErrorFromResponse(const HttpResponse& response) {
    CliError error;
    switch (response.status) {
        case 401:
            error.exit_code = ExitCode::kUnauthenticated;
            break;
        case 403:
            error.exit_code = ExitCode::kPermissionDenied;
            break;
        case 404:
            error.exit_code = ExitCode::kNotFound;
            break;
        default:
            error.exit_code = ExitCode::kFailure;
            break;
    }
    Json doc = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
        const Json& body = doc["error"];
        if (body.contains("message") && body["message"].is_string()) {
            error.message = body["message"].get<std::string>();
        }
        if (error.message.empty() && body.contains("code") && body["code"].is_string()) {
            error.message = body["code"].get<std::string>();
        }
    }
    if (error.message.empty()) {
        error.message = "the server answered HTTP " + std::to_string(response.status);
        if (std::string text = ShortBodyText(response.body); !text.empty()) {
            error.message += ": " + text;
        }
    }
    if (response.status >= 300 && response.status < 400) {
        if (std::string location = response.Header("location"); !location.empty()) {
            error.hint = "the server redirects to " + location + "; use that URL instead";
        }
    } else if (response.status == 429) {
        if (std::string retry = response.Header("retry-after"); !retry.empty()) {
            error.hint = "try again in " + retry + " seconds";
        }
    } else if (response.status == 500) {
        if (std::string id = response.Header("x-request-id");
            !id.empty() && error.message.find(id) == std::string::npos) {
            error.hint = "request id " + id;
        }
    }
    return error;
}

}  // namespace lathe::cli
