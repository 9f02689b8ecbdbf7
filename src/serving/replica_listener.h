// The serving listener: model replicas dial in here and keep one connection each (PROTOCOL.md).
// Asio lives in this module's .cc only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "serving/replica_pool.h"

namespace boost::asio {
class io_context;
}

namespace lathe::serving {

class ReplicaListener {
public:
    // Who a HELLO says it is, once checked: the pool it joins.
    struct Admission {
        std::shared_ptr<ReplicaPool> pool;
        std::int64_t workload_id = 0;
        std::string replica_id;
    };
    using HelloFn = std::function<Result<Admission>(std::string_view hello_json)>;
    // A replica joined (after WELCOME) or its connection ended.
    using JoinedFn = std::function<void(std::int64_t workload_id)>;
    using GoneFn = std::function<void(std::int64_t workload_id, const std::string& why)>;

    ReplicaListener();
    ~ReplicaListener();

    // Binds host:port (0: any free port); returns the bound port. Connections are served on `io`
    // (the HTTP server's threads, so a call's answer reaches its HTTP connection without a
    // thread hop), or on a thread of its own when `io` is null.
    Result<int> Start(const std::string& host, int port, HelloFn hello, JoinedFn joined,
                      GoneFn gone, boost::asio::io_context* io = nullptr);
    // Closes the listener and every connection and waits for them to end (the I/O threads must
    // still run); joins its own thread if it has one.
    void Shutdown();
    // Runs fn on the listener's thread after `delay` (batching timers).
    void After(std::chrono::milliseconds delay, std::function<void()> fn);

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lathe::serving
