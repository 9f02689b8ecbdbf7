// The HTTP/1.1 + WebSocket server: Beast on C++20 coroutines, handlers on a bounded worker pool.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "http/router.h"

namespace boost::asio {
class io_context;
}

namespace lathe::http {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 0;
    int io_threads = 1;
    int io_spin_us = 0;  // see Server: I/O threads poll this long before sleeping, at light load
    int worker_threads = 4;
    std::uint64_t max_body_bytes = 5ull << 20;
    std::uint64_t max_header_bytes = 16ull << 10;
    std::uint64_t max_upload_bytes = 1ull << 30;  // bodies of kStreamToFile routes
    int max_connections = 1000;
    int read_timeout_seconds = 30;
    int write_timeout_seconds = 30;
    int idle_timeout_seconds = 60;
    int shutdown_grace_seconds = 10;
    std::filesystem::path upload_dir;  // where streamed bodies are written (same fs as the data)
};

// One finished request, for the access log.
struct AccessRecord {
    const Request* request;
    int status;
    std::uint64_t bytes_sent;
    double duration_ms;
    std::string_view actor;
};
using AccessLogFn = std::function<void(const AccessRecord&)>;

class Server {
public:
    Server(ServerOptions options, const Router& router, AccessLogFn access_log);
    ~Server();

    // Binds and starts serving; returns the bound port.
    Result<int> Start();
    // Blocks until SIGINT/SIGTERM (or Shutdown from elsewhere), then shuts down gracefully.
    void RunUntilSignal();
    // Stops accepting, runs the shutdown hook, lets in-flight requests finish within the grace
    // period, stops threads.
    void Shutdown();
    // Runs once shutdown begins, while the I/O threads still run (e.g. to close connections
    // another module keeps on io_context()).
    void SetShutdownHook(std::function<void()> hook);
    // The I/O threads' context, for modules that serve their own sockets on the same threads.
    boost::asio::io_context& io_context();
    // Runs fn on an I/O thread (for work that completes many requests at once: one hop for all).
    void Post(std::function<void()> fn);

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lathe::http
