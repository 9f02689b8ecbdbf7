// Maps (method, path) to routes: literal segments, {param} segments, a trailing {name+} that takes
// the rest of the path, and CML-style colon verbs on the last segment ("...:stop").
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "http/message.h"

namespace lathe::http {

class WsChannel;

// How a route receives its body: in memory (bounded by max_body_bytes) or streamed to a temp
// file (bounded by the route's own limit), for uploads.
enum class BodyMode { kBuffered, kStreamToFile };

// What a WebSocket route's handler gives back: called on each text message and once at the end.
struct WsCallbacks {
    std::function<void(std::string_view)> on_message;
    std::function<void()> on_close;
};

// A thread-safe handle to send on an accepted WebSocket.
class WsChannel {
public:
    virtual ~WsChannel() = default;
    // Text frames must be whole UTF-8; raw bytes (e.g. log chunks) go as binary frames.
    virtual void Send(std::string data, bool binary = false) = 0;
    virtual void Close() = 0;
};

using Handler = std::function<Response(Request&)>;
// A handler that answers later, from any thread, by calling `respond` exactly once (the model
// endpoint: the answer comes when a replica replies). It runs on the I/O thread: it must not
// block. The request stays valid until `respond` is called.
using Responder = std::function<void(Response)>;
using AsyncHandler = std::function<void(Request&, Responder respond)>;
// Runs before the upgrade (authenticate and authorize there); an error refuses it with that error.
using WsHandler =
    std::function<Result<WsCallbacks>(Request&, std::shared_ptr<WsChannel>)>;

struct Route {
    std::string method;
    std::string pattern;  // "/api/v2/projects/{project_id}/files/{path+}:download"
    std::string action;   // the policy action guarding it ("public" for open routes)
    Handler handler;
    BodyMode body = BodyMode::kBuffered;
    bool run_inline = false;  // cheap, never blocks: runs on the I/O thread (e.g. /healthz)
    WsHandler ws;              // set for WebSocket routes (method GET)
    AsyncHandler async_handler;  // set instead of handler for routes that answer later
    // For kStreamToFile routes: runs before the body is read, so a caller who may not upload is
    // refused before sending gigabytes. A response here is sent instead of reading the body.
    std::function<std::optional<Response>(Request&)> before_body;

    // The pattern as OpenAPI writes it ("{path+}" -> "{path}").
    std::string OpenApiPath() const;
};

struct RouteMatch {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
};

class Router {
public:
    void Add(Route route);
    // Matches a percent-encoded path. Errors: kNotFound, kMethodNotAllowed (with the allowed
    // methods in the message), kBadRequest for malformed escapes.
    Result<RouteMatch> Match(std::string_view method, std::string_view path) const;
    const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

private:
    struct Segment {
        std::string text;  // literal text or parameter name
        bool is_param = false;
        bool rest = false;  // {name+}: this and all remaining segments
    };
    struct Compiled {
        const Route* route;
        std::vector<Segment> segments;
        std::string verb;  // "" or "download"
    };
    bool MatchCompiled(const Compiled& c, const std::vector<std::string_view>& segments,
                       std::map<std::string, std::string>* params, bool* bad_escape) const;

    std::vector<std::unique_ptr<Route>> routes_;
    std::vector<Compiled> compiled_;
};

}  // namespace lathe::http
