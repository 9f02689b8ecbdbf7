// Webhook POSTs with libcurl: no signals, no redirects, http/https only.
#include "core/webhook.h"

#include <curl/curl.h>

#include <algorithm>

namespace lathe {

Status PostJson(const std::string& url, const std::string& body, long timeout_seconds) {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        return MakeError(ErrorCode::kUnavailable, "cannot start an HTTP client");
    }
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(3L, timeout_seconds));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        return MakeError(ErrorCode::kUnavailable, curl_easy_strerror(rc));
    }
    if (status < 200 || status >= 300) {
        return MakeError(ErrorCode::kUnavailable,
                         "the receiver answered HTTP " + std::to_string(status));
    }
    return {};
}

}  // namespace lathe
