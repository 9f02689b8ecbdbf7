// Beast server: accept loop, per-connection coroutines on strands, request limits and deadlines,
// streamed uploads, file downloads, WebSocket sessions and graceful shutdown.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first under g++ 12

#include "http/server.h"

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>

#include "core/crypto.h"
#include "core/log.h"
#include "http/errors.h"

namespace lathe::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Executor = net::any_io_executor;  // the connection's strand

namespace {

constexpr std::size_t kMaxWsMessage = 1 << 20;
constexpr std::size_t kMaxWsQueuedBytes = 8 << 20;

// Request ids only need to be unique, not secret: a per-thread generator seeded once from the
// system's randomness (a system call per request showed in profiles).
std::string NewRequestId() {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    thread_local std::uint64_t state = [] {
        std::uint64_t seed = 0;
        const std::string raw = RandomToken(8);
        for (char c : raw) {
            seed = seed * 131 + static_cast<unsigned char>(c);
        }
        return seed | 1;
    }();
    // splitmix64
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::string id(12, 'A');
    for (char& c : id) {
        c = kAlphabet[z & 63];
        z >>= 5;
    }
    return id;
}

bool SaneRequestId(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

void ParseQuery(std::string_view query, std::map<std::string, std::string>* out) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        auto eq = pair.find('=');
        std::string key;
        std::string value;
        if (!PercentDecode(pair.substr(0, eq), &key, true)) {
            continue;
        }
        if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), &value, true)) {
            continue;
        }
        out->emplace(std::move(key), std::move(value));
    }
}

Response SafeInvoke(const Route& route, Request& req) {
    try {
        return route.handler(req);
    } catch (const std::exception& e) {
        LogError("handler threw", {{"request_id", req.request_id}, {"error", e.what()}});
    } catch (...) {
        LogError("handler threw", {{"request_id", req.request_id}});
    }
    return ErrorResponse(
        {ErrorCode::kInternal, "internal error; quote request id " + req.request_id});
}

// Starts an asynchronous handler; its Responder resumes the connection's coroutine on the
// connection's strand (posted, whatever thread responds).
struct AsyncStart {
    const Route* route;
    Request* req;
    // Held by pointer: the responder is copied and moved across threads, and Boost 1.74's
    // any_io_executor double-releases its shared state when moved that way.
    std::shared_ptr<const Executor> executor;

    template <typename Handler>
    void operator()(Handler handler) const {
        auto shared = std::make_shared<Handler>(std::move(handler));
        auto once = std::make_shared<std::atomic<bool>>(false);
        Responder respond = [shared, once, executor = executor](Response r) {
            if (once->exchange(true)) {
                return;
            }
            net::post(*executor, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
        };
        try {
            route->async_handler(*req, respond);
        } catch (const std::exception& e) {
            LogError("handler threw", {{"request_id", req->request_id}, {"error", e.what()}});
            respond(ErrorResponse(
                {ErrorCode::kInternal, "internal error; quote request id " + req->request_id}));
        }
    }
};

// Runs an asynchronous handler. (No temporaries in a full-expression that also co_awaits: g++ 12
// destroys such temporaries twice.)
net::awaitable<Response> RunAsync(const Route& route, Request& req) {
    Executor executor = co_await net::this_coro::executor;
    AsyncStart start;
    start.route = &route;
    start.req = &req;
    start.executor = std::make_shared<const Executor>(executor);
    Response resp = co_await net::async_initiate<decltype(net::use_awaitable), void(Response)>(
        start, net::use_awaitable);
    co_return resp;
}

// A WebSocket's outgoing side: any thread queues, one coroutine on the connection's strand writes.
class WsChannelImpl final : public WsChannel, public std::enable_shared_from_this<WsChannelImpl> {
public:
    explicit WsChannelImpl(Executor strand) : strand_(strand), wake_(strand), done_(strand) {}

    void Send(std::string text, bool binary) override {
        {
            std::lock_guard lock(mu_);
            if (closed_) {
                return;
            }
            queued_bytes_ += text.size();
            if (queued_bytes_ > kMaxWsQueuedBytes) {
                // The peer reads slower than we produce: close rather than grow without bound.
                close_requested_ = true;
            } else {
                queue_.push_back({std::move(text), binary});
            }
        }
        Wake();
    }

    void Close() override {
        {
            std::lock_guard lock(mu_);
            close_requested_ = true;
        }
        Wake();
    }

    net::awaitable<void> WriteLoop(websocket::stream<beast::tcp_stream>& ws) {
        for (;;) {
            std::optional<Frame> message;
            bool close = false;
            {
                std::lock_guard lock(mu_);
                if (closed_) {
                    break;
                }
                if (!queue_.empty()) {
                    message = std::move(queue_.front());
                    queue_.pop_front();
                    queued_bytes_ -= message->data.size();
                } else {
                    close = close_requested_;
                }
            }
            beast::error_code ec;
            if (message) {
                ws.binary(message->binary);
                co_await ws.async_write(net::buffer(message->data),
                                        net::redirect_error(net::use_awaitable, ec));
                if (ec) {
                    break;
                }
                continue;
            }
            if (close) {
                co_await ws.async_close(websocket::close_code::normal,
                                        net::redirect_error(net::use_awaitable, ec));
                break;
            }
            wake_.expires_at(std::chrono::steady_clock::time_point::max());
            co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        {
            std::lock_guard lock(mu_);
            closed_ = true;
        }
        writer_done_ = true;
        done_.cancel();
    }

    // Called on the strand when the read side ends; waits until the writer let go of the stream.
    net::awaitable<void> Finish() {
        {
            std::lock_guard lock(mu_);
            closed_ = true;
        }
        wake_.cancel();
        if (!writer_done_) {
            done_.expires_at(std::chrono::steady_clock::time_point::max());
            beast::error_code ec;
            co_await done_.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
    }

private:
    void Wake() {
        net::post(strand_, [self = shared_from_this()] { self->wake_.cancel(); });
    }

    Executor strand_;
    net::steady_timer wake_;  // strand only
    net::steady_timer done_;  // strand only
    bool writer_done_ = false;  // strand only
    std::mutex mu_;  // guards queue_, queued_bytes_, closed_, close_requested_
    struct Frame {
        std::string data;
        bool binary;
    };
    std::deque<Frame> queue_;
    std::size_t queued_bytes_ = 0;
    bool closed_ = false;
    bool close_requested_ = false;
};

}  // namespace

class Server::Impl {
public:
    Impl(ServerOptions options, const Router& router, AccessLogFn access_log)
        : options_(std::move(options)),
          router_(router),
          access_log_(std::move(access_log)),
          workers_(static_cast<std::size_t>(std::max(1, options_.worker_threads))),
          ioc_(std::max(1, options_.io_threads)),
          acceptor_(ioc_),
          signals_(ioc_, SIGINT, SIGTERM) {}

    ~Impl() { Shutdown(); }

    Result<int> Start() {
        beast::error_code ec;
        auto address = net::ip::make_address(options_.host, ec);
        if (ec) {
            return MakeError(ErrorCode::kBadRequest, "host '" + options_.host +
                                                         "' is not an IP address: " + ec.message());
        }
        tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
        acceptor_.open(endpoint.protocol(), ec);
        if (!ec) {
            acceptor_.set_option(net::socket_base::reuse_address(true), ec);
        }
        if (!ec) {
            acceptor_.bind(endpoint, ec);
        }
        if (!ec) {
            acceptor_.listen(net::socket_base::max_listen_connections, ec);
        }
        if (ec) {
            return MakeError(ErrorCode::kUnavailable, "cannot listen on " + options_.host + ":" +
                                                          std::to_string(options_.port) + ": " +
                                                          ec.message());
        }
        int port = acceptor_.local_endpoint().port();
        signals_.async_wait([this](const beast::error_code& e, int) {
            if (!e) {
                LogInfo("signal received, shutting down");
                signal_received_ = true;
                stop_cv_.notify_all();
            }
        });
        net::co_spawn(ioc_, Accept(), net::detached);
        int n = std::max(1, options_.io_threads);
        for (int i = 0; i < n; ++i) {
            threads_.emplace_back([this] { RunIo(); });
        }
        return port;
    }

    void RunUntilSignal() {
        {
            std::unique_lock lock(stop_mu_);
            stop_cv_.wait(lock, [this] { return signal_received_.load() || stopping_.load(); });
        }
        Shutdown();
    }

    void SetShutdownHook(std::function<void()> hook) { shutdown_hook_ = std::move(hook); }
    net::io_context& io_context() { return ioc_; }

    void Shutdown() {
        if (stopped_.exchange(true)) {
            return;
        }
        stopping_ = true;
        stop_cv_.notify_all();
        net::post(ioc_, [this] {
            beast::error_code ec;
            acceptor_.close(ec);
            signals_.cancel(ec);
        });
        if (shutdown_hook_) {
            shutdown_hook_();
        }
        {
            std::unique_lock lock(flight_mu_);
            bool drained = flight_cv_.wait_for(
                lock, std::chrono::seconds(options_.shutdown_grace_seconds),
                [this] { return in_flight_ == 0; });
            if (!drained) {
                LogWarn("shutdown grace period over; cutting requests still in flight",
                        {{"in_flight", in_flight_}});
            }
        }
        ioc_.stop();
        for (auto& t : threads_) {
            t.join();
        }
        threads_.clear();
        workers_.stop();
        workers_.join();
    }

private:
    net::awaitable<void> Accept() {
        for (;;) {
            beast::error_code ec;
            tcp::socket socket(net::make_strand(ioc_));
            co_await acceptor_.async_accept(socket, net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                if (stopping_ || ec == net::error::operation_aborted) {
                    co_return;
                }
                // Out of file descriptors and the like: back off instead of spinning.
                LogWarn("accept failed", {{"error", ec.message()}});
                net::steady_timer t(ioc_, std::chrono::milliseconds(50));
                co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
                continue;
            }
            // Small request/response exchanges (runner log chunks, heartbeats) must not wait
            // for Nagle's algorithm.
            socket.set_option(tcp::no_delay(true), ec);
            auto executor = socket.get_executor();
            net::co_spawn(executor, Serve(std::move(socket)), net::detached);
        }
    }

    void BeginRequest() {
        std::lock_guard lock(flight_mu_);
        ++in_flight_;
        light_load_.store(in_flight_ <= kSpinMaxInFlight, std::memory_order_relaxed);
    }

    void EndRequest() {
        std::lock_guard lock(flight_mu_);
        --in_flight_;
        light_load_.store(in_flight_ <= kSpinMaxInFlight, std::memory_order_relaxed);
        if (in_flight_ == 0) {
            flight_cv_.notify_all();
        }
    }

    // An I/O thread. With io_spin_us, after running handlers it keeps polling for that long
    // before it sleeps in epoll, while the load is light: waking a sleeping thread (and an idle
    // virtual CPU) costs more than a lone request's whole path. Under load there is always
    // work, and the cores belong to the replicas, so it never spins then.
    void RunIo() {
        const auto spin = std::chrono::microseconds(options_.io_spin_us);
        if (spin.count() <= 0) {
            ioc_.run();
            return;
        }
        using Clock = std::chrono::steady_clock;
        auto last_work = Clock::now();
        while (!ioc_.stopped()) {
            if (ioc_.poll() > 0) {
                last_work = Clock::now();
                continue;
            }
            if (light_load_.load(std::memory_order_relaxed) && Clock::now() - last_work < spin) {
                continue;
            }
            if (ioc_.run_one() > 0) {
                last_work = Clock::now();
            }
        }
    }

    // Sends a response; returns the body bytes written, or -1 when the write failed.
    net::awaitable<std::int64_t> Write(beast::tcp_stream& stream, const Request& req,
                                        Response& resp, unsigned version, bool keep_alive,
                                        bool head) {
        beast::error_code ec;
        stream.expires_after(std::chrono::seconds(options_.write_timeout_seconds));
        auto fill = [&](auto& msg) {
            msg.version(version);
            msg.result(static_cast<bhttp::status>(resp.status));
            msg.set(bhttp::field::server, "lathe");
            if (!resp.content_type.empty()) {
                msg.set(bhttp::field::content_type, resp.content_type);
            }
            msg.set("X-Request-Id", req.request_id);
            msg.set("X-Content-Type-Options", "nosniff");
            for (const auto& [k, v] : resp.headers) {
                msg.insert(k, v);
            }
            msg.keep_alive(keep_alive);
        };
        std::int64_t bytes = 0;
        if (!resp.file.empty()) {
            bhttp::response<bhttp::file_body> msg;
            fill(msg);
            msg.body().open(resp.file.c_str(), beast::file_mode::scan, ec);
            if (ec) {
                Response err = ErrorResponse(
                    {ErrorCode::kInternal, "cannot open file for download: " + ec.message()});
                err.close = resp.close;
                resp = std::move(err);
                co_return co_await Write(stream, req, resp, version, keep_alive, head);
            }
            msg.prepare_payload();
            bytes = msg.body().size();
            if (head) {
                bhttp::response_serializer<bhttp::file_body> sr(msg);
                co_await bhttp::async_write_header(stream, sr,
                                                   net::redirect_error(net::use_awaitable, ec));
            } else {
                co_await bhttp::async_write(stream, msg,
                                            net::redirect_error(net::use_awaitable, ec));
            }
        } else if (!resp.body_parts.empty()) {
            bhttp::response<bhttp::empty_body> msg;
            fill(msg);
            bytes = static_cast<std::int64_t>(resp.body.size());
            for (const auto& part : resp.body_parts) {
                bytes += static_cast<std::int64_t>(part.size());
            }
            msg.content_length(static_cast<std::uint64_t>(bytes));
            bhttp::response_serializer<bhttp::empty_body> sr(msg);
            co_await bhttp::async_write_header(stream, sr,
                                               net::redirect_error(net::use_awaitable, ec));
            if (!ec && !head) {
                std::vector<net::const_buffer> buffers;
                buffers.push_back(net::buffer(resp.body));
                for (const auto& part : resp.body_parts) {
                    buffers.push_back(net::buffer(part));
                }
                co_await net::async_write(stream, buffers,
                                          net::redirect_error(net::use_awaitable, ec));
            }
        } else {
            bhttp::response<bhttp::string_body> msg;
            fill(msg);
            msg.body() = std::move(resp.body);
            msg.prepare_payload();
            bytes = msg.body().size();
            if (resp.status == 204 || resp.status == 304) {
                msg.content_length(boost::none);
                msg.body().clear();
            }
            if (head) {
                bhttp::response_serializer<bhttp::string_body> sr(msg);
                co_await bhttp::async_write_header(stream, sr,
                                                   net::redirect_error(net::use_awaitable, ec));
            } else {
                co_await bhttp::async_write(stream, msg,
                                            net::redirect_error(net::use_awaitable, ec));
            }
        }
        if (resp.delete_file_after && !resp.file.empty()) {
            std::error_code fec;
            std::filesystem::remove(resp.file, fec);
        }
        co_return ec ? -1 : bytes;
    }

    net::awaitable<void> Serve(tcp::socket socket) {
        const int active = ++connections_;
        struct Count {
            std::atomic<int>& n;
            ~Count() { --n; }
        } count{connections_};
        beast::error_code ec;
        std::string remote;
        if (auto ep = socket.remote_endpoint(ec); !ec) {
            remote = ep.address().to_string();
        }
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer;
        if (active > options_.max_connections) {
            Request req;
            req.request_id = NewRequestId();
            Response resp = ErrorResponse(
                {ErrorCode::kUnavailable, "too many connections; try again shortly"});
            resp.headers.emplace_back("Retry-After", "1");
            co_await Write(stream, req, resp, 11, false, false);
            stream.socket().shutdown(tcp::socket::shutdown_send, ec);
            co_return;
        }
        for (;;) {
            if (stopping_) {
                break;
            }
            stream.expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
            bhttp::request_parser<bhttp::empty_body> hp;
            hp.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
            // The body parser, chosen by route, sets the real limit. (Not boost::none: Beast 1.74
            // compares lengths against the optional and then refuses every body.)
            hp.body_limit(std::numeric_limits<std::uint64_t>::max());
            hp.eager(false);
            co_await bhttp::async_read_header(stream, buffer, hp,
                                              net::redirect_error(net::use_awaitable, ec));
            const auto started = std::chrono::steady_clock::now();
            Request req;
            req.remote_address = remote;
            req.request_id = NewRequestId();
            if (ec) {
                if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
                    ec == net::error::operation_aborted || ec == net::error::connection_reset) {
                    break;
                }
                Error err{ErrorCode::kBadRequest, "malformed HTTP request: " + ec.message()};
                if (ec == beast::error::timeout) {
                    if (buffer.size() == 0) {
                        break;  // an idle keep-alive connection: close quietly
                    }
                    err = {ErrorCode::kRequestTimeout, "the request was not received in time"};
                } else if (ec == bhttp::error::header_limit) {
                    err = {ErrorCode::kHeadersTooLarge,
                           "request headers are larger than " +
                               std::to_string(options_.max_header_bytes) + " bytes"};
                }
                Response resp = ErrorResponse(err);
                BeginRequest();
                auto bytes = co_await Write(stream, req, resp, 11, false, false);
                Finish(req, resp, bytes, started);
                EndRequest();
                break;
            }
            BeginRequest();
            struct EndGuard {
                Impl* impl;
                ~EndGuard() { impl->EndRequest(); }
            } end_guard{this};

            const auto& header = hp.get();
            req.method = std::string(header.method_string());
            req.target = std::string(header.target());
            for (const auto& field : header) {
                std::string name(field.name_string());
                for (auto& c : name) {
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                }
                req.headers.emplace_back(std::move(name), std::string(field.value()));
            }
            if (auto id = req.Header("x-request-id"); SaneRequestId(id)) {
                req.request_id = std::string(id);
            }
            auto qmark = req.target.find('?');
            req.path = req.target.substr(0, qmark);
            if (qmark != std::string::npos) {
                ParseQuery(std::string_view(req.target).substr(qmark + 1), &req.query);
            }
            const bool has_body = hp.chunked() || (hp.content_length() && *hp.content_length() > 0);
            const bool head = req.method == "HEAD";
            bool keep_alive = header.keep_alive();
            const unsigned version = header.version();

            auto match = router_.Match(req.method == "HEAD" ? "GET" : req.method, req.path);
            if (req.path.empty() || req.path.front() != '/') {
                match = MakeError(ErrorCode::kBadRequest, "the request target must be a path");
            }
            if (!match) {
                Response resp = ErrorResponse(match.error());
                if (match.error().code == ErrorCode::kMethodNotAllowed) {
                    resp.headers.emplace_back("Allow", AllowedFrom(match.error().message));
                }
                // A small body is read and dropped so the connection can be reused; a large or
                // unbounded one is not worth receiving: answer and close.
                bool drained = !has_body;
                if (has_body && hp.content_length() &&
                    *hp.content_length() <= options_.max_body_bytes) {
                    bhttp::request_parser<bhttp::string_body> sp{std::move(hp)};
                    sp.body_limit(options_.max_body_bytes);
                    stream.expires_after(std::chrono::seconds(options_.read_timeout_seconds));
                    co_await bhttp::async_read(stream, buffer, sp,
                                               net::redirect_error(net::use_awaitable, ec));
                    drained = !ec;
                }
                bool ka = keep_alive && drained && !stopping_;
                auto bytes = co_await Write(stream, req, resp, version, ka, head);
                Finish(req, resp, bytes, started);
                if (!ka) {
                    break;
                }
                continue;
            }
            const Route& route = *match->route;
            req.params = std::move(match->params);

            if (route.ws) {
                co_await ServeWebSocket(std::move(stream), buffer, hp, req, route, started);
                co_return;
            }

            if (route.body == BodyMode::kStreamToFile && route.before_body) {
                auto refusal = co_await net::co_spawn(
                    workers_.get_executor(),
                    [&route, &req]() -> net::awaitable<std::optional<Response>> {
                        co_return route.before_body(req);
                    },
                    net::use_awaitable);
                if (refusal) {
                    auto bytes = co_await Write(stream, req, *refusal, version, false, head);
                    Finish(req, *refusal, bytes, started);
                    break;
                }
            }

            stream.expires_after(std::chrono::seconds(options_.read_timeout_seconds));
            std::optional<Error> body_error;
            const std::uint64_t body_limit = route.body == BodyMode::kStreamToFile
                                                 ? options_.max_upload_bytes
                                                 : options_.max_body_bytes;
            if (hp.content_length() && *hp.content_length() > body_limit) {
                // Refused from the header alone: no need to receive what we won't keep.
                Response resp = ErrorResponse(BodyError(bhttp::error::body_limit, body_limit));
                auto bytes = co_await Write(stream, req, resp, version, false, head);
                Finish(req, resp, bytes, started);
                co_await LingeringClose(stream);
                co_return;
            }
            if (has_body && header[bhttp::field::expect] == "100-continue") {
                bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
                stream.expires_after(std::chrono::seconds(options_.write_timeout_seconds));
                co_await bhttp::async_write(stream, cont,
                                            net::redirect_error(net::use_awaitable, ec));
                if (ec) {
                    break;
                }
                stream.expires_after(std::chrono::seconds(options_.read_timeout_seconds));
            }

            if (route.body == BodyMode::kStreamToFile) {
                std::filesystem::path temp = options_.upload_dir / ("upload-" + RandomToken(12));
                bhttp::request_parser<bhttp::file_body> fp{std::move(hp)};
                fp.body_limit(options_.max_upload_bytes);
                fp.get().body().open(temp.c_str(), beast::file_mode::write, ec);
                if (ec) {
                    body_error = Error{ErrorCode::kInternal,
                                       "cannot store the upload: " + ec.message()};
                } else {
                    if (!fp.is_done()) {
                        co_await bhttp::async_read(stream, buffer, fp,
                                                   net::redirect_error(net::use_awaitable, ec));
                    }
                    fp.get().body().close();
                    if (ec) {
                        body_error = BodyError(ec, options_.max_upload_bytes);
                        std::error_code fec;
                        std::filesystem::remove(temp, fec);
                    } else {
                        req.body_file = temp;
                    }
                }
            } else {
                bhttp::request_parser<bhttp::string_body> sp{std::move(hp)};
                sp.body_limit(options_.max_body_bytes);
                if (!sp.is_done()) {
                    co_await bhttp::async_read(stream, buffer, sp,
                                               net::redirect_error(net::use_awaitable, ec));
                }
                if (ec) {
                    body_error = BodyError(ec, options_.max_body_bytes);
                } else {
                    req.body = std::move(sp.get().body());
                }
            }
            if (body_error) {
                Response resp = ErrorResponse(*body_error);
                auto bytes = co_await Write(stream, req, resp, version, false, head);
                Finish(req, resp, bytes, started);
                co_await LingeringClose(stream);
                co_return;
            }

            Response resp;
            if (route.async_handler) {
                resp = co_await RunAsync(route, req);
            } else if (route.run_inline) {
                resp = SafeInvoke(route, req);
            } else {
                resp = co_await net::co_spawn(
                    workers_.get_executor(),
                    [&route, &req]() -> net::awaitable<Response> {
                        co_return SafeInvoke(route, req);
                    },
                    net::use_awaitable);
            }
            if (!req.body_file.empty()) {
                // The handler moves what it keeps; anything left is an abandoned upload.
                std::error_code fec;
                std::filesystem::remove(req.body_file, fec);
            }
            keep_alive = keep_alive && !resp.close && !stopping_;
            auto bytes = co_await Write(stream, req, resp, version, keep_alive, head);
            Finish(req, resp, bytes, started);
            if (!keep_alive || bytes < 0) {
                break;
            }
        }
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    net::awaitable<void> ServeWebSocket(beast::tcp_stream stream, beast::flat_buffer& buffer,
                                        bhttp::request_parser<bhttp::empty_body>& hp,
                                        Request& req, const Route& route,
                                        std::chrono::steady_clock::time_point started) {
        beast::error_code ec;
        if (!websocket::is_upgrade(hp.get())) {
            Response resp = ErrorResponse(
                {ErrorCode::kBadRequest, "this endpoint needs a WebSocket upgrade"});
            auto bytes = co_await Write(stream, req, resp, hp.get().version(), false, false);
            Finish(req, resp, bytes, started);
            co_return;
        }
        auto strand = stream.get_executor();
        auto channel = std::make_shared<WsChannelImpl>(Executor(strand));
        auto callbacks = co_await net::co_spawn(
            workers_.get_executor(),
            [&]() -> net::awaitable<Result<WsCallbacks>> {
                try {
                    co_return route.ws(req, channel);
                } catch (const std::exception& e) {
                    co_return MakeError(ErrorCode::kInternal, e.what());
                }
            },
            net::use_awaitable);
        if (!callbacks) {
            Response resp = ErrorResponse(callbacks.error());
            auto bytes = co_await Write(stream, req, resp, hp.get().version(), false, false);
            Finish(req, resp, bytes, started);
            co_return;
        }
        websocket::stream<beast::tcp_stream> ws(std::move(stream));
        beast::get_lowest_layer(ws).expires_never();
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws.read_message_max(kMaxWsMessage);
        co_await ws.async_accept(hp.get(), net::redirect_error(net::use_awaitable, ec));
        Response upgraded;
        upgraded.status = 101;
        Finish(req, upgraded, 0, started);
        if (ec) {
            co_return;
        }
        net::co_spawn(strand, channel->WriteLoop(ws), net::detached);
        beast::flat_buffer message;
        while (!stopping_) {
            co_await ws.async_read(message, net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                break;
            }
            if (callbacks->on_message) {
                callbacks->on_message(beast::buffers_to_string(message.data()));
            }
            message.consume(message.size());
        }
        co_await channel->Finish();
        if (callbacks->on_close) {
            net::post(workers_, [cb = callbacks->on_close] { cb(); });
        }
        (void)buffer;
    }

    // After refusing a body mid-way the client may still be sending it; closing at once would
    // make its kernel discard our answer (RST). Read and drop for a little while first.
    net::awaitable<void> LingeringClose(beast::tcp_stream& stream) {
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream.expires_after(std::chrono::seconds(2));
        std::vector<char> sink(64 * 1024);
        std::size_t total = 0;
        while (!ec && total < (64u << 20)) {
            total += co_await stream.async_read_some(net::buffer(sink),
                                                     net::redirect_error(net::use_awaitable, ec));
        }
    }

    static Error BodyError(const beast::error_code& ec, std::uint64_t limit) {
        if (ec == bhttp::error::body_limit) {
            return {ErrorCode::kPayloadTooLarge,
                    "the request body is larger than " + std::to_string(limit) + " bytes"};
        }
        if (ec == beast::error::timeout) {
            return {ErrorCode::kRequestTimeout, "the request body was not received in time"};
        }
        return {ErrorCode::kBadRequest, "malformed request body: " + ec.message()};
    }

    static std::string AllowedFrom(const std::string& message) {
        auto pos = message.find("allowed: ");
        return pos == std::string::npos ? "" : message.substr(pos + 9);
    }

    void Finish(const Request& req, const Response& resp, std::int64_t bytes,
                std::chrono::steady_clock::time_point started) {
        if (!access_log_) {
            return;
        }
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              started)
                        .count();
        access_log_(AccessRecord{&req, resp.status,
                                 static_cast<std::uint64_t>(std::max<std::int64_t>(bytes, 0)), ms,
                                 resp.log_actor});
    }

    ServerOptions options_;
    const Router& router_;
    AccessLogFn access_log_;
    net::thread_pool workers_;
    std::atomic<int> connections_{0};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> stopped_{false};
    std::atomic<bool> signal_received_{false};
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    std::mutex flight_mu_;  // guards in_flight_
    std::condition_variable flight_cv_;
    int in_flight_ = 0;
    static constexpr int kSpinMaxInFlight = 2;
    std::atomic<bool> light_load_{true};  // in_flight_ <= kSpinMaxInFlight
    std::vector<std::thread> threads_;
    std::function<void()> shutdown_hook_;
    // Declared last: destroyed first, so pending coroutine frames go while what they use lives.
    net::io_context ioc_;
    tcp::acceptor acceptor_;
    net::signal_set signals_;
};

Server::Server(ServerOptions options, const Router& router, AccessLogFn access_log)
    : impl_(std::make_unique<Impl>(std::move(options), router, std::move(access_log))) {}

Server::~Server() = default;

Result<int> Server::Start() { return impl_->Start(); }

void Server::RunUntilSignal() { impl_->RunUntilSignal(); }
void Server::SetShutdownHook(std::function<void()> hook) { impl_->SetShutdownHook(std::move(hook)); }
boost::asio::io_context& Server::io_context() { return impl_->io_context(); }

void Server::Post(std::function<void()> fn) { net::post(impl_->io_context(), std::move(fn)); }

void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace lathe::http
