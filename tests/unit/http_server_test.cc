// The HTTP server against a real Beast client: keep-alive, limits, WebSocket upgrade and
// messages both ways, graceful shutdown.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first under g++ 12

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <thread>

#include "http/errors.h"
#include "http/server.h"

namespace lathe::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

class HttpServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lathe-http-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        Route hello;
        hello.method = "GET";
        hello.pattern = "/hello/{name}";
        hello.action = "public";
        hello.handler = [](Request& r) {
            return Response::Json(200, {{"hello", r.params.at("name")}, {"q", r.Query("q")}});
        };
        router_.Add(hello);
        Route echo_body;
        echo_body.method = "POST";
        echo_body.pattern = "/echo";
        echo_body.action = "public";
        echo_body.handler = [](Request& r) {
            Response resp;
            resp.content_type = "text/plain";
            resp.body = r.body;
            return resp;
        };
        router_.Add(echo_body);
        Route parts;
        parts.method = "GET";
        parts.pattern = "/parts";
        parts.action = "public";
        parts.handler = [](Request&) {
            Response resp;
            resp.content_type = "text/plain";
            resp.body = "first|";
            resp.body_parts = {std::string(3 << 20, 'x'), "", "|last"};
            return resp;
        };
        router_.Add(parts);
        Route slow;
        slow.method = "GET";
        slow.pattern = "/slow";
        slow.action = "public";
        slow.handler = [](Request&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            return Response::Json(200, {{"done", true}});
        };
        router_.Add(slow);
        Route ws;
        ws.method = "GET";
        ws.pattern = "/ws/echo";
        ws.action = "public";
        ws.ws = [](Request& r, std::shared_ptr<WsChannel> channel) -> Result<WsCallbacks> {
            if (r.Query("deny") == "1") {
                return MakeError(ErrorCode::kPermissionDenied, "not you");
            }
            channel->Send("welcome");
            std::weak_ptr<WsChannel> weak = channel;
            return WsCallbacks{[weak](std::string_view m) {
                                   if (auto c = weak.lock()) {
                                       c->Send("echo:" + std::string(m));
                                   }
                               },
                               nullptr};
        };
        router_.Add(ws);

        ServerOptions options;
        options.port = 0;
        options.io_threads = 2;
        options.worker_threads = 2;
        options.max_body_bytes = 1024;
        options.shutdown_grace_seconds = 5;
        options.upload_dir = dir_;
        server_ = std::make_unique<Server>(options, router_, nullptr);
        auto port = server_->Start();
        ASSERT_TRUE(port) << port.error().message;
        port_ = *port;
    }

    void TearDown() override {
        server_->Shutdown();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    tcp::socket Connect() {
        tcp::socket socket(ioc_);
        socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                     static_cast<unsigned short>(port_)));
        return socket;
    }

    std::filesystem::path dir_;
    Router router_;
    std::unique_ptr<Server> server_;
    int port_ = 0;
    net::io_context ioc_;
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    beast::tcp_stream stream(Connect());
    beast::flat_buffer buffer;
    for (int i = 0; i < 3; ++i) {
        bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/hello/w%20x?q=a+b", 11};
        req.set(bhttp::field::host, "localhost");
        bhttp::write(stream, req);
        bhttp::response<bhttp::string_body> res;
        bhttp::read(stream, buffer, res);
        EXPECT_EQ(res.result_int(), 200);
        EXPECT_EQ(res.body(), R"({"hello":"w x","q":"a b"})");
        EXPECT_TRUE(res.keep_alive());
        EXPECT_FALSE(res["X-Request-Id"].empty());
    }
}

TEST_F(HttpServerTest, ABodyInPartsIsSentWhole) {
    beast::tcp_stream stream(Connect());
    beast::flat_buffer buffer;
    for (int i = 0; i < 2; ++i) {  // and the connection stays usable
        bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/parts", 11};
        req.set(bhttp::field::host, "localhost");
        bhttp::write(stream, req);
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(16 << 20);
        bhttp::read(stream, buffer, parser);
        const auto& res = parser.get();
        EXPECT_EQ(res.result_int(), 200);
        EXPECT_EQ(res[bhttp::field::content_length], std::to_string(6 + (3 << 20) + 5));
        EXPECT_EQ(res.body(), "first|" + std::string(3 << 20, 'x') + "|last");
        EXPECT_EQ(res[bhttp::field::content_type], "text/plain");
    }
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413AndErrorsHaveOneShape) {
    beast::tcp_stream stream(Connect());
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/echo", 11};
    req.set(bhttp::field::host, "localhost");
    req.body() = std::string(2048, 'x');
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 413);
    auto body = nlohmann::json::parse(res.body());
    EXPECT_EQ(body["error"]["code"], "payload_too_large");
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
}

TEST_F(HttpServerTest, GarbageIs400AndTheServerStaysUp) {
    {
        tcp::socket socket = Connect();
        net::write(socket, net::buffer(std::string("\x01\x02 NOT HTTP\r\n\r\n")));
        std::string reply(4096, '\0');
        beast::error_code ec;
        std::size_t n = socket.read_some(net::buffer(reply), ec);
        reply.resize(n);
        EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
    }
    beast::tcp_stream stream(Connect());
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/hello/again", 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 200);
}

TEST_F(HttpServerTest, WebSocketUpgradeSendsAndReceives) {
    websocket::stream<beast::tcp_stream> ws(Connect());
    ws.handshake("localhost", "/ws/echo");
    beast::flat_buffer buffer;
    ws.read(buffer);
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), "welcome");
    for (std::string message : {"one", "two"}) {
        buffer.consume(buffer.size());
        ws.write(net::buffer(message));
        ws.read(buffer);
        EXPECT_EQ(beast::buffers_to_string(buffer.data()), "echo:" + message);
    }
    ws.close(websocket::close_code::normal);
}

TEST_F(HttpServerTest, WebSocketHandlerCanRefuseTheUpgrade) {
    beast::tcp_stream stream(Connect());
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/ws/echo?deny=1", 11};
    req.set(bhttp::field::host, "localhost");
    req.set(bhttp::field::upgrade, "websocket");
    req.set(bhttp::field::connection, "upgrade");
    req.set(bhttp::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(bhttp::field::sec_websocket_version, "13");
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 403);
    EXPECT_EQ(nlohmann::json::parse(res.body())["error"]["code"], "permission_denied");
}

TEST_F(HttpServerTest, PlainGetOnAWebSocketRouteIsRefused) {
    beast::tcp_stream stream(Connect());
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/ws/echo", 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 400);
}

TEST_F(HttpServerTest, ShutdownLetsAnInFlightRequestFinish) {
    beast::tcp_stream stream(Connect());
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/slow", 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(stream, req);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::thread stopper([this] { server_->Shutdown(); });
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    beast::error_code ec;
    bhttp::read(stream, buffer, res, ec);
    stopper.join();
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_FALSE(res.keep_alive());
}

}  // namespace
}  // namespace lathe::http
