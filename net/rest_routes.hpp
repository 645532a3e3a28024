// The REST API's routing: a route is a method, a path pattern, who may call
// it and the function that answers. find_route picks the route of a request;
// rest_api.cpp holds the table and answers what find_route cannot place
// (401, 404, 405) the same way for every resource.
#pragma once

#include <ostream>

#include <boost/beast/http/verb.hpp> // after <ostream>, which it uses without including

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::net {

struct rest_call;

/// Who may call a route. Checked before the method, so that a caller
/// without the key learns nothing of which methods a resource takes.
enum class auth_rule {
  open,    ///< anyone: /health, /metrics, the WebSocket endpoint's hint
  api_key, ///< the API key, when one is configured
  /// the API key, unless the {name} query is marked public (the demo
  /// page's initial load); unknown names need the key, so they stay private
  api_key_unless_public_query,
};

/// The values of a pattern's named segments: {"stream": "chat:lobby"}.
using path_params = std::map<std::string, std::string, std::less<>>;

struct route {
  /// nullopt takes any method.
  std::optional<boost::beast::http::verb> method;
  /// "/api/streams/{stream}": literal segments, {named} segments that take
  /// any one segment, and a last "**" that takes any rest, none included.
  std::string_view pattern;
  auth_rule auth;
  void (*handler)(const rest_call&);
};

/// Whether decoded path `segments` fit `pattern`; on a fit, `params` holds
/// the named segments.
bool match_path(std::string_view pattern, const std::vector<std::string>& segments,
                path_params& params);

struct route_match {
  enum outcome {
    found,        ///< `entry` answers the request
    wrong_method, ///< the path names a resource, `entry` its first route
    no_route,     ///< no pattern fits the path
  } outcome = no_route;
  const route* entry = nullptr;
  path_params params;
};

/// The route of a request. The first pattern in `table` that fits the path
/// names the resource; of the routes with that same pattern, the first
/// whose method fits answers. The routes of one pattern share its auth rule.
route_match find_route(const std::vector<route>& table, boost::beast::http::verb method,
                       const std::vector<std::string>& segments);

} // namespace herald::net
