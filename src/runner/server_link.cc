// The runner's HTTP link to the server, on libcurl's multi interface.
#include "runner/server_link.h"

#include <algorithm>
#include <cctype>

namespace lathe::runner {
namespace {

// Connecting is quick or never. A request has long enough to cross a busy network, and short
// enough that a silently dead connection is given up well before the server counts as gone.
constexpr long kConnectTimeoutMs = 10'000;
constexpr long kRequestTimeoutMs = 30'000;

std::string ShortText(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    if (text.size() > 200) {
        return std::string(text.substr(0, 200)) + "...";
    }
    std::string printable(text);
    for (char& c : printable) {
        if (static_cast<unsigned char>(c) < 0x20) {
            c = ' ';
        }
    }
    return printable;
}

}  // namespace

std::string HttpAnswer::Describe() const {
    if (!answered()) {
        return error;
    }
    std::string text = "HTTP " + std::to_string(status);
    if (std::string shown = ShortText(body); !shown.empty()) {
        text += ": " + shown;
    }
    return text;
}

Exchange::~Exchange() {
    if (easy_ != nullptr) {
        curl_easy_cleanup(easy_);
    }
    curl_slist_free_all(headers_);
}

Result<std::unique_ptr<ServerLink>> ServerLink::Create(std::string base_url, std::string token) {
    static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (global != CURLE_OK) {
        return MakeError(ErrorCode::kInternal, "cannot initialise libcurl");
    }
    CURLM* multi = curl_multi_init();
    if (multi == nullptr) {
        return MakeError(ErrorCode::kInternal, "cannot initialise libcurl");
    }
    return std::unique_ptr<ServerLink>(
        new ServerLink(std::move(base_url), std::move(token), multi));
}

ServerLink::ServerLink(std::string base_url, std::string token, CURLM* multi)
    : base_url_(std::move(base_url)), token_(std::move(token)), multi_(multi) {}

ServerLink::~ServerLink() {
    for (auto& exchange : exchanges_) {
        if (exchange->in_flight_) {
            curl_multi_remove_handle(multi_, exchange->easy_);
        }
    }
    exchanges_.clear();
    curl_multi_cleanup(multi_);
}

Exchange& ServerLink::NewExchange() {
    exchanges_.push_back(std::make_unique<Exchange>());
    return *exchanges_.back();
}

std::size_t ServerLink::OnAnswerBytes(char* data, std::size_t size, std::size_t count, void* user) {
    auto* exchange = static_cast<Exchange*>(user);
    std::size_t bytes = size * count;
    if (exchange->answer_body_.size() + bytes > kMaxAnswerBytes) {
        exchange->answer_too_large_ = true;
        return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
    }
    exchange->answer_body_.append(data, bytes);
    return bytes;
}

Status ServerLink::Start(Exchange& exchange,
                         std::string_view path,
                         std::string body,
                         std::string_view content_type) {
    if (exchange.in_flight_) {
        return MakeError(ErrorCode::kInternal, "a request is already in flight on this exchange");
    }
    if (exchange.easy_ == nullptr) {
        exchange.easy_ = curl_easy_init();
        if (exchange.easy_ == nullptr) {
            return MakeError(ErrorCode::kInternal, "cannot make a libcurl handle");
        }
    }
    CURL* easy = exchange.easy_;
    // The connection lives in the multi handle's cache, so a reset handle still reuses it.
    curl_easy_reset(easy);
    exchange.request_body_ = std::move(body);
    exchange.answer_body_.clear();
    exchange.answer_too_large_ = false;
    exchange.error_[0] = '\0';

    curl_slist_free_all(exchange.headers_);
    exchange.headers_ = nullptr;
    std::string authorization = "Authorization: Bearer " + token_;
    exchange.headers_ = curl_slist_append(exchange.headers_, authorization.c_str());
    exchange.headers_ = curl_slist_append(exchange.headers_, "Accept: application/json");
    // No "Expect: 100-continue" round trip before a large log chunk: latency matters more.
    exchange.headers_ = curl_slist_append(exchange.headers_, "Expect:");
    if (!content_type.empty()) {
        std::string header = "Content-Type: " + std::string(content_type);
        exchange.headers_ = curl_slist_append(exchange.headers_, header.c_str());
    }
    if (exchange.headers_ == nullptr) {
        return MakeError(ErrorCode::kInternal, "out of memory for request headers");
    }

    std::string url = base_url_ + std::string(path);
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "lathe-runner");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, kRequestTimeoutMs);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, exchange.error_);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &ServerLink::OnAnswerBytes);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &exchange);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &exchange);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, exchange.headers_);
    if (content_type.empty()) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, exchange.request_body_.data());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(exchange.request_body_.size()));
    }
    CURLMcode added = curl_multi_add_handle(multi_, easy);
    if (added != CURLM_OK) {
        return MakeError(ErrorCode::kInternal,
                         std::string("cannot start a request: ") + curl_multi_strerror(added));
    }
    exchange.in_flight_ = true;
    return {};
}

Status ServerLink::Wait(std::span<const pollfd> fds, int timeout_ms) {
    std::vector<curl_waitfd> extra;
    extra.reserve(fds.size());
    for (const pollfd& fd : fds) {
        extra.push_back(curl_waitfd{fd.fd, static_cast<short>(fd.events), 0});
    }
    CURLMcode code = curl_multi_poll(multi_, extra.data(), static_cast<unsigned>(extra.size()),
                                     std::max(timeout_ms, 0), nullptr);
    if (code != CURLM_OK) {
        return MakeError(ErrorCode::kInternal, std::string("waiting for the network failed: ") +
                                                   curl_multi_strerror(code));
    }
    return {};
}

std::vector<FinishedExchange> ServerLink::Perform() {
    std::vector<FinishedExchange> finished;
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
        if (message->msg != CURLMSG_DONE) {
            continue;
        }
        CURL* easy = message->easy_handle;
        CURLcode result = message->data.result;  // `message` dies with remove_handle
        Exchange* exchange = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &exchange);
        curl_multi_remove_handle(multi_, easy);
        if (exchange == nullptr) {
            continue;
        }
        exchange->in_flight_ = false;

        HttpAnswer answer;
        if (result == CURLE_OK) {
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &answer.status);
            answer.body = std::move(exchange->answer_body_);
            if (answer.status == 0) {
                answer.error = "the server sent no HTTP status";
            }
        } else if (exchange->answer_too_large_) {
            answer.error = "the server's answer is larger than " +
                           std::to_string(kMaxAnswerBytes / 1024) + " KiB";
        } else {
            answer.error =
                exchange->error_[0] != '\0' ? exchange->error_ : curl_easy_strerror(result);
        }
        exchange->answer_body_.clear();
        finished.push_back(FinishedExchange{exchange, std::move(answer)});
    }
    return finished;
}

}  // namespace lathe::runner
