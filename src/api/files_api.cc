// Project files: listing, streamed upload and download, folders as tar archives, moves, deletes.
#include <fstream>

#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"
#include "core/crypto.h"

namespace lathe::api {
namespace {

std::string ContentDisposition(const std::string& filename) {
    // RFC 6266: a plain ASCII fallback plus the exact UTF-8 name.
    std::string ascii;
    for (unsigned char c : filename) {
        ascii += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? static_cast<char>(c) : '_';
    }
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" +
           http::PercentEncodeSegment(filename);
}

Result<http::Response> ListDirectory(Context& ctx, const std::string& path) {
    auto files = ctx.services.projects.Files(ctx.project_id);
    ASSIGN_OR_RETURN(auto entries, files->List(path));
    json items = json::array();
    for (const auto& e : entries) {
        items.push_back(RenderFile(e));
    }
    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "files"));
    return http::Response::Json(200, page);
}

}  // namespace

void RegisterFileRoutes(http::Router& router, Services& s) {
    const std::string base = "/api/v2/projects/{project_id}/files";
    AddEndpoint(router, s, "GET", base, auth::Action::kFilesRead,
                [](Context& ctx) { return ListDirectory(ctx, ""); });
    AddEndpoint(router, s, "GET", base + "/{path+}", auth::Action::kFilesRead,
                [](Context& ctx) -> Result<http::Response> {
                    auto files = ctx.services.projects.Files(ctx.project_id);
                    ASSIGN_OR_RETURN(auto entry, files->Stat(ctx.Param("path")));
                    if (entry.is_dir) {
                        return ListDirectory(ctx, entry.path);
                    }
                    return http::Response::Json(200, RenderFile(entry));
                });
    AddEndpoint(router, s, "GET", base + "/{path+}:download", auth::Action::kFilesRead,
                [](Context& ctx) -> Result<http::Response> {
                    auto files = ctx.services.projects.Files(ctx.project_id);
                    ASSIGN_OR_RETURN(auto entry, files->Stat(ctx.Param("path")));
                    http::Response r;
                    r.content_type = "application/octet-stream";
                    if (!entry.is_dir) {
                        ASSIGN_OR_RETURN(r.file, files->Resolve(entry.path));
                        r.headers.emplace_back("Content-Disposition", ContentDisposition(entry.name));
                        return r;
                    }
                    // A folder is archived to a temp file first, so a failure half-way becomes a
                    // clear error instead of a truncated download that looks complete.
                    std::filesystem::path tar =
                        ctx.services.temp_dir / ("archive-" + RandomToken(12) + ".tar");
                    {
                        std::ofstream out(tar, std::ios::binary | std::ios::trunc);
                        if (!out) {
                            return MakeError(ErrorCode::kInternal, "cannot create an archive file");
                        }
                        auto st = files->WriteTar(entry.path, out);
                        out.close();
                        if (!st || !out) {
                            std::error_code ec;
                            std::filesystem::remove(tar, ec);
                            if (!st) {
                                return std::unexpected(st.error());
                            }
                            return MakeError(ErrorCode::kInternal, "cannot write the archive");
                        }
                    }
                    r.content_type = "application/x-tar";
                    r.file = tar;
                    r.delete_file_after = true;
                    r.headers.emplace_back("Content-Disposition",
                                           ContentDisposition((entry.name.empty() ? "project"
                                                                                  : entry.name) +
                                                              std::string(".tar")));
                    return r;
                });
    AddEndpoint(
        router, s, "PUT", base + "/{path+}", auth::Action::kFilesWrite,
        [](Context& ctx) -> Result<http::Response> {
            auto files = ctx.services.projects.Files(ctx.project_id);
            ASSIGN_OR_RETURN(auto entry, files->CommitUpload(ctx.Param("path"), ctx.request.body_file));
            return http::Response::Json(201, RenderFile(entry));
        },
        {.body = http::BodyMode::kStreamToFile});
    AddEndpoint(router, s, "POST", base + "/{path+}:mkdir", auth::Action::kFilesWrite,
                [](Context& ctx) -> Result<http::Response> {
                    auto files = ctx.services.projects.Files(ctx.project_id);
                    ASSIGN_OR_RETURN(auto entry, files->MakeDirectory(ctx.Param("path")));
                    return http::Response::Json(201, RenderFile(entry));
                });
    AddEndpoint(router, s, "PATCH", base + "/{path+}", auth::Action::kFilesWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"path"}));
                    ASSIGN_OR_RETURN(std::string to, RequiredString(body, "path"));
                    auto files = ctx.services.projects.Files(ctx.project_id);
                    ASSIGN_OR_RETURN(auto entry, files->Rename(ctx.Param("path"), to));
                    return http::Response::Json(200, RenderFile(entry));
                });
    AddEndpoint(router, s, "DELETE", base + "/{path+}", auth::Action::kFilesWrite,
                [](Context& ctx) -> Result<http::Response> {
                    auto files = ctx.services.projects.Files(ctx.project_id);
                    RETURN_IF_ERROR(files->Remove(ctx.Param("path")));
                    return http::Response::NoContent();
                });
}

}  // namespace lathe::api
