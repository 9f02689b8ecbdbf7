// Route matching.
#include "http/router.h"

namespace lathe::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
    std::vector<std::string_view> out;
    if (!path.empty() && path.front() == '/') {
        path.remove_prefix(1);
    }
    while (true) {
        auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) {
            break;
        }
        path.remove_prefix(slash + 1);
    }
    return out;
}

}  // namespace

std::string Route::OpenApiPath() const {
    std::string out = pattern;
    for (std::size_t pos; (pos = out.find("+}")) != std::string::npos;) {
        out.erase(pos, 1);
    }
    return out;
}

void Router::Add(Route route) {
    auto owned = std::make_unique<Route>(std::move(route));
    Compiled c{owned.get(), {}, {}};
    std::string pattern = owned->pattern;
    auto last_slash = pattern.rfind('/');
    auto colon = pattern.rfind(':');
    if (colon != std::string::npos && colon > last_slash) {
        c.verb = pattern.substr(colon + 1);
        pattern.resize(colon);
    }
    for (std::string_view seg : SplitPath(pattern)) {
        Segment s;
        if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
            s.is_param = true;
            s.text = std::string(seg.substr(1, seg.size() - 2));
            if (!s.text.empty() && s.text.back() == '+') {
                s.text.pop_back();
                s.rest = true;
            }
        } else {
            s.text = std::string(seg);
        }
        c.segments.push_back(std::move(s));
    }
    compiled_.push_back(std::move(c));
    routes_.push_back(std::move(owned));
}

bool Router::MatchCompiled(const Compiled& c, const std::vector<std::string_view>& segments,
                           std::map<std::string, std::string>* params, bool* bad_escape) const {
    params->clear();
    std::size_t i = 0;
    for (const Segment& s : c.segments) {
        if (s.rest) {
            if (i >= segments.size()) {
                return false;
            }
            std::string joined;
            for (std::size_t j = i; j < segments.size(); ++j) {
                if (j > i) {
                    joined += '/';
                }
                joined += segments[j];
            }
            std::string decoded;
            if (!PercentDecode(joined, &decoded)) {
                *bad_escape = true;
                return false;
            }
            if (decoded.empty()) {
                return false;
            }
            (*params)[s.text] = std::move(decoded);
            return true;
        }
        if (i >= segments.size()) {
            return false;
        }
        if (s.is_param) {
            std::string decoded;
            if (!PercentDecode(segments[i], &decoded)) {
                *bad_escape = true;
                return false;
            }
            if (decoded.empty()) {
                return false;
            }
            (*params)[s.text] = std::move(decoded);
        } else if (s.text != segments[i]) {
            return false;
        }
        ++i;
    }
    return i == segments.size();
}

Result<RouteMatch> Router::Match(std::string_view method, std::string_view path) const {
    std::vector<std::string_view> plain = SplitPath(path);
    // The same path read with its last segment's ":verb" split off.
    std::string verb;
    std::vector<std::string_view> verbed = plain;
    if (!verbed.empty()) {
        std::string_view last = verbed.back();
        auto colon = last.rfind(':');
        if (colon != std::string_view::npos && colon + 1 < last.size()) {
            verb = std::string(last.substr(colon + 1));
            verbed.back() = last.substr(0, colon);
        }
    }
    std::string allowed;
    bool bad_escape = false;
    RouteMatch found;
    // Verb routes first, so "a:download" reaches the download route, not a file named so.
    for (int pass = 0; pass < 2; ++pass) {
        for (const Compiled& c : compiled_) {
            if ((pass == 0) != !c.verb.empty()) {
                continue;
            }
            if (pass == 0 && (verb.empty() || c.verb != verb)) {
                continue;
            }
            std::map<std::string, std::string> params;
            if (!MatchCompiled(c, pass == 0 ? verbed : plain, &params, &bad_escape)) {
                continue;
            }
            if (c.route->method == method ||
                (method == "HEAD" && c.route->method == "GET" && !c.route->ws)) {
                found.route = c.route;
                found.params = std::move(params);
                return found;
            }
            if (allowed.find(c.route->method) == std::string::npos) {
                allowed += (allowed.empty() ? "" : ", ") + c.route->method;
            }
        }
        if (!allowed.empty()) {
            break;
        }
    }
    if (bad_escape) {
        return MakeError(ErrorCode::kBadRequest, "the path has a malformed %-escape");
    }
    if (!allowed.empty()) {
        return MakeError(ErrorCode::kMethodNotAllowed,
                         std::string(method) + " is not allowed here; allowed: " + allowed);
    }
    return MakeError(ErrorCode::kNotFound, "no such endpoint: " + std::string(path));
}

}  // namespace lathe::http
