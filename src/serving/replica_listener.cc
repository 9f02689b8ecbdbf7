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
#include <condition_variable>
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

// The server's end of one replica connection. Frames may be queued from any thread; whoever
// flushes writes them straight to the socket when it can (no hop to the listener's thread on the
// hot path), else the listener's thread finishes the write. The socket is closed only when no
// write is in progress, so a flushing thread never writes to a reused descriptor.
class Connection final : public ReplicaLink, public std::enable_shared_from_this<Connection> {
public:
    explicit Connection(tcp::socket socket) : socket_(std::move(socket)) {}

    tcp::socket& socket() { return socket_; }

    void Enqueue(std::string_view bytes) override {
        std::lock_guard lock(mu_);
        if (!closed_) {
            out_.append(bytes);
        }
    }

    void Flush() override {
        std::string batch;
        {
            std::lock_guard lock(mu_);
            if (closed_ || writing_ || out_.empty()) {
                return;
            }
            writing_ = true;
            batch.swap(out_);
        }
        std::size_t sent = 0;
        for (;;) {
            const ssize_t n = ::send(socket_.native_handle(), batch.data() + sent,
                                     batch.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
            }
            if (sent == batch.size()) {
                std::lock_guard lock(mu_);
                if (out_.empty() || closed_) {
                    EndWriteLocked();
                    return;
                }
                batch.clear();
                batch.swap(out_);
                sent = 0;
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                std::lock_guard lock(mu_);
                out_.clear();
                EndWriteLocked();  // the reading side sees the broken connection
                return;
            }
            // The socket buffer is full: the listener's thread writes the rest when it drains.
            {
                std::lock_guard lock(mu_);
                batch.erase(0, sent);
                batch += out_;
                out_.swap(batch);
            }
            net::post(socket_.get_executor(), [self = shared_from_this()] { self->WriteSome(); });
            return;
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
        net::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
    }

private:
    // Called with mu_ held when a write ends; a close that waited for it goes ahead.
    void EndWriteLocked() {
        writing_ = false;
        if (close_waiting_) {
            close_waiting_ = false;
            net::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
        }
    }

    void CloseNow() {
        {
            std::lock_guard lock(mu_);
            if (writing_) {
                close_waiting_ = true;
                return;
            }
            writing_ = true;  // nothing may write from now on
        }
        boost::system::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
    }

    // On the listener's thread, with writing_ set: sends out_ asynchronously until it is empty.
    void WriteSome() {
        {
            std::lock_guard lock(mu_);
            if (out_.empty() || closed_) {
                out_.clear();
                EndWriteLocked();
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
                                 self->out_.clear();
                                 self->EndWriteLocked();
                                 return;
                             }
                             self->WriteSome();
                         });
    }

    tcp::socket socket_;
    std::mutex mu_;  // guards out_, writing_, closed_, close_waiting_
    std::string out_;
    bool writing_ = false;        // a thread (or the async write) owns the socket's sending side
    bool closed_ = false;         // no more frames are taken
    bool close_waiting_ = false;  // the close waits for the write in progress
    std::string sending_;         // only on the listener's thread
};

}  // namespace

class ReplicaListener::Impl {
public:
    Result<int> Start(const std::string& host, int port, HelloFn hello, JoinedFn joined,
                      GoneFn gone, net::io_context* external) {
        hello_ = std::move(hello);
        joined_ = std::move(joined);
        gone_ = std::move(gone);
        if (external != nullptr) {
            io_ = external;
        } else {
            own_io_ = std::make_unique<net::io_context>(1);
            io_ = own_io_.get();
        }
        acceptor_ = std::make_unique<tcp::acceptor>(*io_);
        boost::system::error_code ec;
        auto address = net::ip::make_address(host, ec);
        if (ec) {
            return MakeError(ErrorCode::kBadRequest,
                             "serving_host '" + host + "' is not an IP address");
        }
        tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
        acceptor_->open(endpoint.protocol(), ec);
        if (!ec) {
            acceptor_->set_option(net::socket_base::reuse_address(true), ec);
            acceptor_->bind(endpoint, ec);
        }
        if (!ec) {
            acceptor_->listen(net::socket_base::max_listen_connections, ec);
        }
        if (ec) {
            return MakeError(ErrorCode::kUnavailable, "cannot listen for model replicas on " +
                                                          host + ":" + std::to_string(port) +
                                                          ": " + ec.message());
        }
        const int bound = acceptor_->local_endpoint().port();
        {
            std::lock_guard lock(mu_);
            ++active_;  // the accept loop
        }
        net::co_spawn(*io_, Accept(), net::detached);
        if (own_io_) {
            thread_ = std::thread([this] {
                for (;;) {
                    try {
                        io_->run();
                        break;
                    } catch (const std::exception& e) {
                        LogError("serving listener error", {{"error", e.what()}});
                    }
                }
            });
        }
        started_ = true;
        return bound;
    }

    void Shutdown() {
        if (!started_ || shut_) {
            return;
        }
        shut_ = true;
        net::post(*io_, [this] {
            boost::system::error_code ec;
            acceptor_->close(ec);
        });
        std::vector<std::shared_ptr<Connection>> open;
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
            open.assign(connections_.begin(), connections_.end());
        }
        for (const auto& c : open) {
            c->Close();
        }
        {
            std::unique_lock lock(mu_);
            if (!done_.wait_for(lock, std::chrono::seconds(5), [this] { return active_ == 0; })) {
                LogWarn("replica connections did not close in time", {{"open", active_}});
            }
        }
        if (own_io_) {
            io_->stop();
            thread_.join();
        }
    }

    void After(std::chrono::milliseconds delay, std::function<void()> fn) {
        auto timer = std::make_shared<net::steady_timer>(*io_, delay);
        timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) {
            if (!ec) {
                fn();
            }
        });
    }

private:
    // Counts a coroutine out; Shutdown waits for all of them.
    void Done() {
        std::lock_guard lock(mu_);
        if (--active_ == 0) {
            done_.notify_all();
        }
    }

    net::awaitable<void> Accept() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket(net::make_strand(*io_));
            co_await acceptor_->async_accept(socket, net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                if (!acceptor_->is_open()) {
                    break;
                }
                continue;
            }
            {
                std::lock_guard lock(mu_);
                if (stopping_) {
                    break;
                }
                ++active_;
            }
            auto executor = socket.get_executor();
            net::co_spawn(executor, Serve(std::move(socket)), net::detached);
        }
        Done();
    }

    net::awaitable<void> Serve(tcp::socket socket) {
        boost::system::error_code ec;
        socket.set_option(tcp::no_delay(true), ec);
        auto conn = std::make_shared<Connection>(std::move(socket));
        {
            std::lock_guard lock(mu_);
            connections_.insert(conn);
        }
        std::string buffer;
        std::array<char, 65536> chunk;
        std::vector<Frame> frames;
        std::int64_t workload_id = 0;
        std::shared_ptr<ReplicaPool> pool;
        std::string why = "the replica closed its connection";

        // The first frame must be a HELLO, within the deadline.
        net::steady_timer deadline(conn->socket().get_executor(), kHelloTimeout);
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
                    conn->Send(bytes);
                    LogWarn("model replica refused", {{"error", admitted.error().message}});
                    // Give the REFUSED frame a moment to leave before closing.
                    net::steady_timer linger(conn->socket().get_executor(),
                                             std::chrono::milliseconds(100));
                    co_await linger.async_wait(net::redirect_error(net::use_awaitable, ec));
                    why.clear();
                    break;
                }
                deadline.cancel();
                pool = admitted->pool;
                workload_id = admitted->workload_id;
                std::string bytes;
                AppendFrame(bytes, FrameType::kWelcome, 0,
                            nlohmann::json{{"replica_id", admitted->replica_id}}.dump());
                conn->Send(bytes);
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
        {
            std::lock_guard lock(mu_);
            connections_.erase(conn);
        }
        if (pool) {
            pool->RemoveReplica(workload_id, why);
            if (gone_) {
                gone_(workload_id, why);
            }
        }
        Done();
    }

    std::unique_ptr<net::io_context> own_io_;
    net::io_context* io_ = nullptr;
    std::unique_ptr<tcp::acceptor> acceptor_;
    std::thread thread_;
    bool started_ = false;
    bool shut_ = false;
    HelloFn hello_;
    JoinedFn joined_;
    GoneFn gone_;
    std::mutex mu_;  // guards connections_, active_, stopping_
    std::condition_variable done_;
    std::set<std::shared_ptr<Connection>> connections_;
    int active_ = 0;  // coroutines still running: the accept loop and one per connection
    bool stopping_ = false;
};

ReplicaListener::ReplicaListener() : impl_(std::make_unique<Impl>()) {}
ReplicaListener::~ReplicaListener() { Shutdown(); }

Result<int> ReplicaListener::Start(const std::string& host, int port, HelloFn hello,
                                   JoinedFn joined, GoneFn gone, boost::asio::io_context* io) {
    return impl_->Start(host, port, std::move(hello), std::move(joined), std::move(gone), io);
}

void ReplicaListener::Shutdown() { impl_->Shutdown(); }

void ReplicaListener::After(std::chrono::milliseconds delay, std::function<void()> fn) {
    impl_->After(delay, std::move(fn));
}

}  // namespace lathe::serving
