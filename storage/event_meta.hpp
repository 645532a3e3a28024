// Event metadata: a msgpack map stored beside each event. herald writes
// `user`, `client` (the publishing connection), `conn_info` and `chan_info`
// (the client's info as JSON values) and `correlation` / `causation` ids when
// known; REST appends may add any other keys. Readers ignore what they do not
// know.
#pragma once

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
};

/// The msgpack map of the non-empty fields. conn_info and chan_info must be
/// valid JSON (they are stored as msgpack values).
std::string encode_meta(const event_meta& m);

/// Reads the known fields of a msgpack map; anything malformed reads as empty.
event_meta decode_meta(std::string_view msgpack);

} // namespace herald::storage
