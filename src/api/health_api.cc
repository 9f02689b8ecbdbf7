// Liveness, readiness and the OpenAPI document.
#include <yaml-cpp/yaml.h>

#include "api/endpoint.h"
#include "api/routes.h"

extern const unsigned char kOpenApiYaml[];
extern const std::size_t kOpenApiYamlSize;

namespace lathe::api {
namespace {

json YamlToJson(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map: {
            json out = json::object();
            for (const auto& kv : node) {
                out[kv.first.as<std::string>()] = YamlToJson(kv.second);
            }
            return out;
        }
        case YAML::NodeType::Sequence: {
            json out = json::array();
            for (const auto& item : node) {
                out.push_back(YamlToJson(item));
            }
            return out;
        }
        case YAML::NodeType::Scalar: {
            const std::string& s = node.Scalar();
            if (node.Tag() == "!") {  // quoted: always a string
                return s;
            }
            if (s == "true" || s == "false") {
                return s == "true";
            }
            if (s == "null" || s == "~") {
                return nullptr;
            }
            json number = json::parse(s, nullptr, false);
            if (!number.is_discarded() && number.is_number()) {
                return number;
            }
            return s;
        }
        default: return nullptr;
    }
}

}  // namespace

const std::string& OpenApiJson() {
    static const std::string kJson =
        YamlToJson(YAML::Load(std::string(reinterpret_cast<const char*>(kOpenApiYaml), kOpenApiYamlSize))).dump();
    return kJson;
}

void RegisterHealthRoutes(http::Router& router, Services& s) {
    AddEndpoint(
        router, s, "GET", "/healthz", auth::Action::kPublic,
        [](Context&) -> Result<http::Response> {
            return http::Response::Json(200, {{"status", "ok"}});
        },
        {.run_inline = true});
    AddEndpoint(router, s, "GET", "/readyz", auth::Action::kPublic,
                [](Context& ctx) -> Result<http::Response> {
                    if (auto st = ctx.services.store.Ping(); !st) {
                        return MakeError(ErrorCode::kUnavailable,
                                         "the store is not answering: " + st.error().message);
                    }
                    return http::Response::Json(200, {{"status", "ok"}});
                });
    AddEndpoint(router, s, "GET", "/api/v2/openapi.json", auth::Action::kPublic,
                [](Context&) -> Result<http::Response> {
                    http::Response r;
                    r.body = OpenApiJson();
                    return r;
                });
}

}  // namespace lathe::api
