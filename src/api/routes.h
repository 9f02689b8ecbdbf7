// Per-resource route registration, called by RegisterRoutes.
#pragma once

#include "api/api.h"

namespace lathe::api {

void RegisterHealthRoutes(http::Router& router, Services& services);
void RegisterAuthRoutes(http::Router& router, Services& services);
void RegisterUserRoutes(http::Router& router, Services& services);
void RegisterKeyRoutes(http::Router& router, Services& services);
void RegisterTeamRoutes(http::Router& router, Services& services);
void RegisterProjectRoutes(http::Router& router, Services& services);
void RegisterFileRoutes(http::Router& router, Services& services);
void RegisterEnvRoutes(http::Router& router, Services& services);
void RegisterAuditRoutes(http::Router& router, Services& services);
void RegisterJobRoutes(http::Router& router, Services& services);
void RegisterRunnerRoutes(http::Router& router, Services& services);
void RegisterModelRoutes(http::Router& router, Services& services);
void RegisterServingRoutes(http::Router& router, Services& services);
void RegisterMetricsRoutes(http::Router& router, Services& services);
void RegisterMonitorRoutes(http::Router& router, Services& services);
void RegisterLineageRoutes(http::Router& router, Services& services);

// The OpenAPI document (embedded src/api/openapi.yaml) as JSON.
const std::string& OpenApiJson();

}  // namespace lathe::api
