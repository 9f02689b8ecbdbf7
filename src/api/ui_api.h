// The web UI's static files at / (registered last: it answers every GET no API route takes).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "api/api.h"

namespace lathe::api {

// GET / and GET /{path+}: files of the built UI, index.html for the UI's own routes, and a page
// saying how to build the UI when it isn't there. Never answers for the API's paths (/api/,
// /model, /v2/, /metrics, /healthz, /readyz): those keep their 404 and 405 answers.
void RegisterUiRoutes(http::Router& router, Services& services);

// Where the built UI is: `setting` if absolute; else under the working directory, else beside the
// binary (<binary dir>/../<setting>). Returns the first that holds index.html, or the
// working-directory one when none does.
std::filesystem::path ResolveUiDir(const std::string& setting);

// True for paths that belong to the API and model serving, never to the UI.
bool IsApiPath(std::string_view path);

}  // namespace lathe::api
