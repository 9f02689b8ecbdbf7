// Plain HTTP request and response values, independent of Beast, for routers and handlers.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace lathe::http {

struct Request {
    std::string method;  // "GET", ...
    std::string target;  // as received: path and query
    std::string path;    // percent-encoded path, without the query
    std::map<std::string, std::string> query;  // decoded
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    // For routes that stream their body: the temp file holding it (the handler moves or deletes it).
    std::filesystem::path body_file;
    std::string remote_address;
    std::string request_id;
    std::map<std::string, std::string> params;  // path parameters, decoded

    // First header with this lower-case name, or "".
    std::string_view Header(std::string_view lower_name) const;
    std::string_view Cookie(std::string_view name) const;
    std::string_view Query(const std::string& name) const;
};

// A body held in memory, or a file streamed from disk.
struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // More body after `body`, sent as it is without joining: answers of hundreds of megabytes
    // rendered in parts on several threads.
    std::vector<std::string> body_parts;
    std::filesystem::path file;        // when set, the body is this file's content
    bool delete_file_after = false;    // for generated archives
    std::size_t file_length = 0;
    bool close = false;                // close the connection after sending
    std::string log_actor;             // who made the request, for the access log

    static Response Json(int status, const nlohmann::json& body);
    static Response NoContent();
};

// Decodes %XX escapes; false on a malformed escape. '+' is kept (paths) unless plus_is_space.
bool PercentDecode(std::string_view in, std::string* out, bool plus_is_space = false);
std::string PercentEncodeSegment(std::string_view in);

}  // namespace lathe::http
