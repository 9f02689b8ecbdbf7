// The web UI's static files: hashed assets cached for good, index.html for the UI's routes.
#include "api/ui_api.h"

#include <algorithm>
#include <array>
#include <system_error>

#include "api/endpoint.h"
#include "http/errors.h"

namespace lathe::api {
namespace {

namespace fs = std::filesystem;

// Vite names every file under assets/ by its content hash: a changed file gets a new name, so
// browsers may keep these for a year. index.html names them, so it is revalidated every time.
constexpr std::string_view kAssetsPrefix = "assets/";
constexpr const char* kImmutable = "public, max-age=31536000, immutable";
constexpr const char* kRevalidate = "no-cache";

std::string_view ContentTypeFor(const fs::path& file) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kTypes = {{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    }};
    const std::string ext = file.extension().string();
    for (const auto& [suffix, type] : kTypes) {
        if (ext == suffix) {
            return type;
        }
    }
    return "application/octet-stream";
}

bool StartsWithSegment(std::string_view path, std::string_view prefix) {
    return path == prefix || (path.starts_with(prefix) && path[prefix.size()] == '/');
}

// A relative path inside the UI directory: no "..", ".", empty segments, backslashes or NULs.
bool IsSafeRelativePath(std::string_view rel) {
    if (rel.empty() || rel.front() == '/' || rel.find('\0') != std::string_view::npos ||
        rel.find('\\') != std::string_view::npos) {
        return false;
    }
    while (true) {
        const auto slash = rel.find('/');
        const std::string_view seg = rel.substr(0, slash);
        if (seg.empty() || seg == "." || seg == "..") {
            return false;
        }
        if (slash == std::string_view::npos) {
            return true;
        }
        rel.remove_prefix(slash + 1);
    }
}

http::Response FileResponse(const fs::path& file, const char* cache_control) {
    http::Response r;
    r.content_type = std::string(ContentTypeFor(file));
    r.file = file;
    r.headers.emplace_back("Cache-Control", cache_control);
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
}

http::Response NotBuiltPage(const fs::path& dir) {
    http::Response r;
    r.status = 404;
    r.content_type = "text/html; charset=utf-8";
    r.headers.emplace_back("Cache-Control", kRevalidate);
    std::string where = dir.string();
    std::string escaped;
    for (char c : where) {
        switch (c) {
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '&': escaped += "&amp;"; break;
            default: escaped += c;
        }
    }
    r.body =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Lathe: the web UI "
        "is not built</title></head><body style=\"font-family:sans-serif;max-width:40em;"
        "margin:3em auto\"><h1>The web UI is not built</h1><p>This server found no "
        "<code>index.html</code> in <code>" +
        escaped +
        "</code>.</p><p>Build it from the repository with <code>make build</code> (it needs "
        "Node.js 18 or later and npm), or by hand with <code>cd web &amp;&amp; npm ci &amp;&amp; "
        "npm run build</code>, then reload this page. To serve a UI built elsewhere, start the "
        "server with <code>--ui-dir /path/to/dist</code> (or <code>LATHE_UI_DIR</code>).</p>"
        "<p>The REST API works without it: see <a href=\"/api/v2/openapi.json\">"
        "/api/v2/openapi.json</a>.</p></body></html>";
    return r;
}

// A GET on an API path no API route takes: the answer the router gives without the UI's
// catch-all route, 405 naming the methods the path does take, else 404.
http::Response ApiPathNotRouted(const http::Router& router, const http::Request& req) {
    std::string allowed;
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
        if (router.Match(method, req.path)) {
            allowed += (allowed.empty() ? "" : ", ") + std::string(method);
        }
    }
    if (allowed.empty()) {
        return http::ErrorResponse(
            Error{ErrorCode::kNotFound, "no such endpoint: " + req.path});
    }
    http::Response r = http::ErrorResponse(
        Error{ErrorCode::kMethodNotAllowed, req.method + " is not allowed here; allowed: " + allowed});
    r.headers.emplace_back("Allow", allowed);
    return r;
}

Result<http::Response> ServeUi(const http::Router& router, Context& ctx, std::string_view rel) {
    const http::Request& req = ctx.request;
    if (IsApiPath(req.path) || IsApiPath("/" + std::string(rel))) {
        return ApiPathNotRouted(router, req);
    }
    const fs::path dir = ResolveUiDir(ctx.services.config.ui_dir);
    std::error_code ec;
    const fs::path index = dir / "index.html";
    if (!fs::is_regular_file(index, ec)) {
        return NotBuiltPage(dir);
    }
    // A path that could leave the folder ("..", "//") never names a file; as a page of the UI
    // it gets index.html like any other.
    if (IsSafeRelativePath(rel)) {
        const fs::path file = dir / fs::path(rel);
        // Symlinks inside the build must not lead out of it.
        std::error_code file_ec;
        std::error_code root_ec;
        const fs::path real = fs::weakly_canonical(file, file_ec);
        const fs::path root = fs::weakly_canonical(dir, root_ec);
        const bool inside =
            !file_ec && !root_ec &&
            std::mismatch(root.begin(), root.end(), real.begin(), real.end()).first == root.end();
        if (inside && fs::is_regular_file(real, ec)) {
            return FileResponse(real, rel.starts_with(kAssetsPrefix) ? kImmutable : kRevalidate);
        }
        // A missing hashed asset is a stale page or a typo, not a route of the UI: say so,
        // rather than answering a script request with HTML.
        if (rel.starts_with(kAssetsPrefix)) {
            return MakeError(ErrorCode::kNotFound,
                             "no such file in the web UI: " + std::string(rel) +
                                 " (reload the page: the UI may have been rebuilt)");
        }
    }
    return FileResponse(index, kRevalidate);
}

}  // namespace

bool IsApiPath(std::string_view path) {
    for (std::string_view prefix : {"/api", "/model", "/v2", "/metrics", "/healthz", "/readyz"}) {
        if (StartsWithSegment(path, prefix)) {
            return true;
        }
    }
    return false;
}

fs::path ResolveUiDir(const std::string& setting) {
    const fs::path configured(setting);
    if (configured.is_absolute()) {
        return configured;
    }
    std::error_code ec;
    const fs::path here = fs::absolute(configured, ec);
    if (fs::is_regular_file(here / "index.html", ec)) {
        return here;
    }
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path beside = exe.parent_path().parent_path() / configured;
        if (fs::is_regular_file(beside / "index.html", ec)) {
            return beside;
        }
    }
    return here;
}

void RegisterUiRoutes(http::Router& router, Services& s) {
    const http::Router* routes = &router;
    AddEndpoint(router, s, "GET", "/", auth::Action::kPublic,
                [routes](Context& ctx) -> Result<http::Response> {
                    return ServeUi(*routes, ctx, "");
                });
    AddEndpoint(router, s, "GET", "/{path+}", auth::Action::kPublic,
                [routes](Context& ctx) -> Result<http::Response> {
                    return ServeUi(*routes, ctx, ctx.Param("path"));
                });
}

}  // namespace lathe::api
