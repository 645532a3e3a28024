// Parsing what a REST request carries: its target (decoded path segments and
// query string), the query arguments of the reads, and the JSON body of an
// append. Pure functions with no actors, sockets or settings: rest_api.cpp
// calls them, and the fuzz target tests/fuzz/rest_body_fuzz.cpp feeds them
// arbitrary bytes.
#pragma once

#include "protocol/append_args.hpp"
#include "storage/event.hpp"
#include "storage/result.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::net {

/// Why a request is malformed: the message of its 400 answer.
struct bad_request {
  std::string message;
};

/// What a request part describes, or why it is malformed.
template <class T>
using parsed = storage::result<T, bad_request>;

using query_args = std::map<std::string, std::string>;

struct request_target {
  std::vector<std::string> segments; ///< decoded path segments
  query_args query;
};

/// Splits the target into decoded segments and query; nullopt if malformed.
std::optional<request_target> parse_target(std::string_view target);

/// GET /api/streams/{stream}?from=V&limit=N&reverse=0|1. `from` defaults to
/// the first version forward and to the latest backward; `limit` is not yet
/// capped by http.max_read_events.
struct stream_read_args {
  uint64_t from = 1;
  uint64_t limit = 100;
  bool reverse = false;
};
parsed<stream_read_args> parse_stream_read(const query_args& query);

/// GET /api/events?from=P&limit=N; `limit` is not yet capped.
struct log_read_args {
  uint64_t from = 1;
  uint64_t limit = 100;
};
parsed<log_read_args> parse_log_read(const query_args& query);

/// POST /api/processors/{name}/rebuild?from=P: P, 1 when missing; the
/// processor checks its range.
parsed<uint64_t> parse_rebuild_from(const query_args& query);

/// Whether a Content-Type header names application/json (any parameters,
/// any case).
bool is_json_media_type(std::string_view content_type);

/// POST /api/streams/{stream}: one event, or {"events":[...]} appended
/// atomically. The expected version is the body's "expected_version", else
/// `expected_header` (the Expected-Version header, when sent), else any.
/// An event without "type" gets protocol::event_type_of(data, default_type). "meta"
/// may not set the keys herald fills from the publisher's identity (user,
/// client, conn_info, chan_info). Payloads and metadata come out as
/// msgpack, checked for nesting depth.
parsed<storage::append_request> parse_append(std::string_view stream, std::string_view body,
                                             std::optional<std::string_view> expected_header,
                                             std::string_view default_type);

} // namespace herald::net
