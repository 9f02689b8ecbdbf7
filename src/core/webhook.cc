// Webhook and export requests with libcurl: no signals, no redirects, http/https only.
#include "core/webhook.h"

#include <curl/curl.h>

#include <algorithm>

namespace lathe {

namespace {

constexpr std::size_t kMaxReplyBody = 4096;

size_t KeepBody(char* data, size_t size, size_t n, void* out) {
    auto* body = static_cast<std::string*>(out);
    const std::size_t room = kMaxReplyBody - std::min(kMaxReplyBody, body->size());
    body->append(data, std::min(room, size * n));
    return size * n;
}

int Progress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* flag = static_cast<const std::atomic<bool>*>(cancel);
    return flag != nullptr && flag->load() ? 1 : 0;
}

}  // namespace

Result<HttpReply> SendJson(const HttpRequest& request) {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        return MakeError(ErrorCode::kUnavailable, "cannot start an HTTP client");
    }
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    for (const std::string& h : request.headers) {
        headers = curl_slist_append(headers, h.c_str());
    }
    HttpReply reply;
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    if (request.method != "POST") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (!request.basic_user.empty()) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
        curl_easy_setopt(curl, CURLOPT_USERNAME, request.basic_user.c_str());
        curl_easy_setopt(curl, CURLOPT_PASSWORD, request.basic_password.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, request.timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(3L, request.timeout_seconds));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, KeepBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
    if (request.cancel != nullptr) {
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA,
                         const_cast<std::atomic<bool>*>(request.cancel));
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    const CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        return MakeError(ErrorCode::kUnavailable, curl_easy_strerror(rc));
    }
    return reply;
}

Status PostJson(const std::string& url, const std::string& body, long timeout_seconds) {
    HttpRequest request;
    request.url = url;
    request.body = body;
    request.timeout_seconds = timeout_seconds;
    ASSIGN_OR_RETURN(HttpReply reply, SendJson(request));
    if (reply.status < 200 || reply.status >= 300) {
        return MakeError(ErrorCode::kUnavailable,
                         "the receiver answered HTTP " + std::to_string(reply.status));
    }
    return {};
}

}  // namespace lathe
