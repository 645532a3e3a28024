// Event metadata: a msgpack map stored beside each event. herald writes who
// appended it (the audit fields, docs/security.md "Audit metadata"): `via`
// (ws, rest, api or processor), `user`, `client` (the publishing
// connection), `conn_info` and `chan_info` (the client's info as JSON
// values), `key` (the name of the API key a REST or server API caller
// presented; absent: anonymous), `processor` and `generation`, `tags` (a server API
// publication's tags), and `correlation_id` /
// `causation_id` when known. REST appends may add any other keys. Readers
// ignore what they do not know.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::storage {

struct event_meta {
  std::string user;
  std::string client;
  std::string conn_info; ///< JSON text, empty when none
  std::string chan_info; ///< JSON text, empty when none
  std::string correlation;
  std::string causation;
  std::string via;       ///< ws, rest, api or processor; empty in rows older than it
  std::string key;       ///< the API key's name (http.api_key_name), never the key
  std::string processor; ///< the processor that derived the event
  /// The processor's generation (rebuilds) when it derived the event; 0,
  /// the first, is not written.
  uint64_t generation = 0;
  /// JSON object of strings: the server API's publication tags, which
  /// subscribers see beside herald's own `type` and `position`.
  std::string tags;
};

/// The msgpack map of the non-empty fields. conn_info and chan_info must be
/// valid JSON (they are stored as msgpack values).
std::string encode_meta(const event_meta& m);

/// Reads the known fields of a msgpack map; anything malformed reads as empty.
/// Rows written before the ids were named `correlation_id` / `causation_id`
/// hold them as `correlation` / `causation`; both read.
event_meta decode_meta(std::string_view msgpack);

/// `extra` (a msgpack map, e.g. a REST caller's own metadata) with the
/// non-empty fields of `m` added; a key of `extra` that `m` sets is dropped.
/// An empty or malformed `extra` counts as an empty map.
std::string merge_meta(std::string_view extra, const event_meta& m);

} // namespace herald::storage
