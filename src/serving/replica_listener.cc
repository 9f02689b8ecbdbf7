// The serving listener on Asio coroutines: one thread, one coroutine per replica connection.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first under g++ 12

#include "serving/replica_listener.h"

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <array>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/log.h"

namespace lathe::serving {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr auto kHelloTimeout = std::chrono::seconds(30);

// The server's end of one replica connection. Sends may come from any thread; the socket is only
// touched on the I/O thread.
class Connection final : public ReplicaLink, public std::enable_shared_from_this<Connection> {
public:
    explicit Connection(tcp::socket socket) : socket_(std::move(socket)) {}

    tcp::socket& socket() { return socket_; }

    void Send(std::string bytes) override {
        bool start = false;
        {
            std::lock_guard lock(mu_);
            if (closed_) {
                return;
            }
            if (!writing_ && out_.empty()) {
                // Nothing queued: write now, from the caller's thread, instead of waking the
                // listener's thread for it (a cross-thread hop per call on the hot path). The
                // kernel allows a send here while that thread reads; closing the socket only
                // happens after closed_ is set under mu_.
                const ssize_t n = ::send(socket_.native_handle(), bytes.data(), bytes.size(),
                                         MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n == static_cast<ssize_t>(bytes.size())) {
                    return;
                }
                if (n > 0) {
                    bytes.erase(0, static_cast<std::size_t>(n));
                }
            }
            out_ += bytes;
            if (!writing_) {
                writing_ = true;
                start = true;
            }
        }
        if (start) {
            net::post(socket_.get_executor(), [self = shared_from_this()] { self->WriteSome(); });
        }
    }

    void Close() override {
        {
            std::lock_guard lock(mu_);
            if (closed_) {
                return;
            }
            closed_ = true;
        }
        net::post(socket_.get_executor(), [self = shared_from_this()] {
            boost::system::error_code ec;
            self->socket_.shutdown(tcp::socket::shutdown_both, ec);
            self->socket_.close(ec);
        });
    }

private:
    void WriteSome() {
        {
            std::lock_guard lock(mu_);
            if (out_.empty() || closed_) {
                writing_ = false;
                return;
            }
            sending_.swap(out_);
            out_.clear();
        }
        net::async_write(socket_, net::buffer(sending_),
                         [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             self->sending_.clear();
                             if (ec) {
                                 std::lock_guard lock(self->mu_);
                                 self->writing_ = false;
                                 self->out_.clear();
                                 return;
                             }
                             self->WriteSome();
                         });
    }

    tcp::socket socket_;
    std::mutex mu_;  // guards out_, writing_, closed_
    std::string out_;
    bool writing_ = false;
    bool closed_ = false;
    std::string sending_;  // only on the I/O thread
};

}  // namespace

class ReplicaListener::Impl {
public:
    Impl() : acceptor_(io_) {}

    Result<int> Start(const std::string& host, int port, HelloFn hello, JoinedFn joined,
                      GoneFn gone) {
        hello_ = std::move(hello);
        joined_ = std::move(joined);
        gone_ = std::move(gone);
        boost::system::error_code ec;
        auto address = net::ip::make_address(host, ec);
        if (ec) {
            return MakeError(ErrorCode::kBadRequest,
                             "serving_host '" + host + "' is not an IP address");
        }
        tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
        acceptor_.open(endpoint.protocol(), ec);
        if (!ec) {
            acceptor_.set_option(net::socket_base::reuse_address(true), ec);
            acceptor_.bind(endpoint, ec);
        }
        if (!ec) {
            acceptor_.listen(net::socket_base::max_listen_connections, ec);
        }
        if (ec) {
            return MakeError(ErrorCode::kUnavailable, "cannot listen for model replicas on " +
                                                          host + ":" + std::to_string(port) +
                                                          ": " + ec.message());
        }
        const int bound = acceptor_.local_endpoint().port();
        net::co_spawn(io_, Accept(), net::detached);
        thread_ = std::thread([this] {
            for (;;) {
                try {
                    io_.run();
                    break;
                } catch (const std::exception& e) {
                    LogError("serving listener error", {{"error", e.what()}});
                }
            }
        });
        return bound;
    }

    void Shutdown() {
        if (!thread_.joinable()) {
            return;
        }
        net::post(io_, [this] {
            boost::system::error_code ec;
            acceptor_.close(ec);
            for (const auto& c : connections_) {
                c->Close();
            }
        });
        // Let the closes run, then stop.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        io_.stop();
        thread_.join();
    }

    void After(std::chrono::milliseconds delay, std::function<void()> fn) {
        auto timer = std::make_shared<net::steady_timer>(io_, delay);
        timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) {
            if (!ec) {
                fn();
            }
        });
    }

private:
    net::awaitable<void> Accept() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket(io_);
            co_await acceptor_.async_accept(socket, net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                if (!acceptor_.is_open()) {
                    co_return;
                }
                continue;
            }
            net::co_spawn(io_, Serve(std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> Serve(tcp::socket socket) {
        boost::system::error_code ec;
        socket.set_option(tcp::no_delay(true), ec);
        auto conn = std::make_shared<Connection>(std::move(socket));
        connections_.insert(conn);
        std::string buffer;
        std::array<char, 65536> chunk;
        std::vector<Frame> frames;
        std::int64_t workload_id = 0;
        std::shared_ptr<ReplicaPool> pool;
        std::string why = "the replica closed its connection";

        // The first frame must be a HELLO, within the deadline.
        net::steady_timer deadline(io_, kHelloTimeout);
        deadline.async_wait([conn](boost::system::error_code e) {
            if (!e) {
                conn->Close();
            }
        });
        for (;;) {
            std::size_t n = co_await conn->socket().async_read_some(
                net::buffer(chunk), net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                break;
            }
            buffer.append(chunk.data(), n);
            frames.clear();
            auto parsed = ParseFrames(buffer, frames);
            if (!parsed) {
                why = "the replica broke the protocol: " + parsed.error().message;
                break;
            }
            if (!pool) {
                if (frames.empty()) {
                    if (buffer.size() > 65536) {
                        why = "the replica's first frame is too large";
                        break;
                    }
                    continue;
                }
                if (frames[0].type != FrameType::kHello) {
                    why = "the replica did not start with HELLO";
                    break;
                }
                auto admitted = hello_(frames[0].payload);
                if (!admitted) {
                    std::string bytes;
                    AppendFrame(bytes, FrameType::kRefused, 0,
                                nlohmann::json{{"message", admitted.error().message}}.dump());
                    conn->Send(std::move(bytes));
                    LogWarn("model replica refused", {{"error", admitted.error().message}});
                    // Give the REFUSED frame a moment to leave before closing.
                    net::steady_timer linger(io_, std::chrono::milliseconds(100));
                    co_await linger.async_wait(net::redirect_error(net::use_awaitable, ec));
                    conn->Close();
                    connections_.erase(conn);
                    co_return;
                }
                deadline.cancel();
                pool = admitted->pool;
                workload_id = admitted->workload_id;
                std::string bytes;
                AppendFrame(bytes, FrameType::kWelcome, 0,
                            nlohmann::json{{"replica_id", admitted->replica_id}}.dump());
                conn->Send(std::move(bytes));
                pool->AddReplica(workload_id, admitted->replica_id, conn);
                if (joined_) {
                    joined_(workload_id);
                }
                frames.erase(frames.begin());
            }
            if (!frames.empty()) {
                pool->OnFrames(workload_id, frames);
            }
            buffer.erase(0, *parsed);
        }
        deadline.cancel();
        conn->Close();
        connections_.erase(conn);
        if (pool) {
            pool->RemoveReplica(workload_id, why);
            if (gone_) {
                gone_(workload_id, why);
            }
        }
    }

    net::io_context io_{1};
    tcp::acceptor acceptor_;
    std::thread thread_;
    HelloFn hello_;
    JoinedFn joined_;
    GoneFn gone_;
    std::set<std::shared_ptr<Connection>> connections_;  // only on the I/O thread
};

ReplicaListener::ReplicaListener() : impl_(std::make_unique<Impl>()) {}
ReplicaListener::~ReplicaListener() { Shutdown(); }

Result<int> ReplicaListener::Start(const std::string& host, int port, HelloFn hello,
                                   JoinedFn joined, GoneFn gone) {
    return impl_->Start(host, port, std::move(hello), std::move(joined), std::move(gone));
}

void ReplicaListener::Shutdown() { impl_->Shutdown(); }

void ReplicaListener::After(std::chrono::milliseconds delay, std::function<void()> fn) {
    impl_->After(delay, std::move(fn));
}

}  // namespace lathe::serving
