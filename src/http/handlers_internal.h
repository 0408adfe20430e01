// Helpers shared by the handler files of src/http (handlers.cc, ui_handlers.cc, admin_api.cc).
// Internal to the module.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "doc/project.h"
#include "http/handlers.h"
#include "index/index.h"

namespace pydepot::http::internal {

inline constexpr std::string_view kRealm = "Basic realm=\"pydepot\", charset=\"UTF-8\"";
// The browser session cookie (docs/web-ui.md).
inline constexpr std::string_view kSessionCookie = "pydepot_session";

// The relative path from the request's page back to the site root ("/a/b/" -> "../../",
// "/login" -> ""). Redirects and links are relative, so a path prefix added by a reverse proxy
// keeps working.
std::string RootOf(std::string_view target);

// 301 to `location` (a non-canonical URL).
Response Redirect(std::string location);
// 303 to `location` (after a form post, or to the login form).
Response SeeOther(std::string location);
// 303 to the login form, coming back to the request's own target afterwards.
Response LoginRedirect(const RequestHead& head);
// A dynamic HTML page or JSON document: never stored by a shared cache.
Response HtmlResponse(unsigned status, std::string body);
Response JsonResponse(unsigned status, std::string body);
Response MethodNotAllowed(std::string allow, std::string_view message);
// A cached page: 304 on a matching If-None-Match, gzip when accepted, sendfile when large.
Response PageResponse(const RequestHead& head, std::shared_ptr<const void> owner,
                      const index::Page& page, std::string_view content_type,
                      std::string_view cache_control, bool vary_accept);
// True when `doc` has a release whose key matches `version`'s (1.0.0 finds 1.0).
bool HasRelease(const doc::ProjectDoc& doc, std::string_view version);
// The message of a 503 for a store or upstream failure.
std::string UnavailableMessage(const Status& status);
// Cache-Control of pages and files, public or private.
std::string_view PageCacheControl(bool authenticated);
std::string_view FileCacheControl(bool authenticated);

}  // namespace pydepot::http::internal
