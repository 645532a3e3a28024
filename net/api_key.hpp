// The REST API key (http.api_key). When one is configured, REST writes, raw
// journal reads, projection administration and non-public named queries
// need it, sent as `Authorization: apikey KEY` (Centrifugo's form) or
// `X-API-Key: KEY`. Without one configured, every caller is an anonymous
// client held to the channel rules (rest_api.hpp, docs/security.md): fine on
// 127.0.0.1, and the node warns at start when it listens elsewhere.
#pragma once

#include "net/rest_api.hpp"

#include <string_view>

namespace herald::net {

/// Whether `req` carries `key` (always true when `key` is empty). The
/// comparison takes the same time wherever the first difference is.
bool has_api_key(const http_request& req, std::string_view key);

/// Whether `presented` is the configured non-empty `key`, in the same time
/// wherever the first difference is (the server API's ?api_key=).
bool same_api_key(std::string_view presented, std::string_view key);

} // namespace herald::net
