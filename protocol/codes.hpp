// The numbers of the client protocol (Centrifugo protocol v2, docs/protocol.md):
// error codes in replies, unsubscribe codes in pushes, and WebSocket close
// codes. Every number herald sends is named here and nowhere else; the
// values are the wire format, so they never change.
#pragma once

#include <cstdint>

namespace herald::protocol {

/// `{"error":{"code":N,...}}` in a reply.
enum class error_code : int {
  internal = 100,
  unauthorized = 101,
  unknown_channel = 102,
  permission_denied = 103,
  method_not_found = 104,
  already_subscribed = 105,
  limit_exceeded = 106,
  bad_request = 107,
  not_available = 108,
  token_expired = 109,
  expired = 110,
  too_many_requests = 111,
  unrecoverable_position = 112,
  conflict = 409, ///< application range: an expected version that did not hold
};

/// `{"push":{"unsubscribe":{"code":N,...}}}`: the server ended one
/// subscription; the SDK resubscribes for 2500..2999.
enum class unsubscribe_code : int {
  server = 2000, ///< the server API's unsubscribe: the SDK does not resubscribe
  insufficient_state = 2500,
  expired = 2501,
};

/// WebSocket close codes. 1xxx are the RFC 6455 ones; 3000..3499 make the
/// SDK reconnect, 3500..3999 make it stop for good.
enum class close_code : uint16_t {
  normal = 1000,
  invalid_utf8 = 1007,
  message_too_big = 1009,
  shutdown = 3001,
  connection_expired = 3005,
  subscription_expired = 3006,
  slow = 3008,
  insufficient_state = 3010,
  no_pong = 3012,
  too_many_requests = 3013,
  invalid_token = 3500,
  bad_request = 3501,
  stale = 3502,
  force_no_reconnect = 3503, ///< the server API's disconnect, by default
  connection_limit = 3504,
};

constexpr int value(error_code c) {
  return static_cast<int>(c);
}

constexpr int value(unsubscribe_code c) {
  return static_cast<int>(c);
}

constexpr uint16_t value(close_code c) {
  return static_cast<uint16_t>(c);
}

} // namespace herald::protocol
