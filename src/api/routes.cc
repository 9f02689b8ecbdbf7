// Every route of the API, by resource.
#include "api/routes.h"
#include "api/ui_api.h"

namespace lathe::api {

void RegisterRoutes(http::Router& router, Services& services) {
    RegisterHealthRoutes(router, services);
    RegisterAuthRoutes(router, services);
    RegisterUserRoutes(router, services);
    RegisterKeyRoutes(router, services);
    RegisterTeamRoutes(router, services);
    RegisterProjectRoutes(router, services);
    RegisterFileRoutes(router, services);
    RegisterEnvRoutes(router, services);
    RegisterAuditRoutes(router, services);
    RegisterJobRoutes(router, services);
    RegisterRunnerRoutes(router, services);
    RegisterModelRoutes(router, services);
    RegisterServingRoutes(router, services);
    RegisterMetricsRoutes(router, services);
    RegisterMonitorRoutes(router, services);
    RegisterLineageRoutes(router, services);
    // Last: the UI answers the GETs no route above takes.
    RegisterUiRoutes(router, services);
}

}  // namespace lathe::api
