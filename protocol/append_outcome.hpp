// How an append the journal refused is answered: to a REST caller (HTTP
// status, error code, message) and to a WebSocket client (reply error code
// and message of the rpc "append"). One table, so the two APIs cannot drift
// apart on which outcome is a conflict.
#pragma once

#include "protocol/codes.hpp"
#include "storage/event.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::protocol {

struct append_refusal {
  /// A conflict with what the stream holds (wrong expected version, an id
  /// stored for other events), not a malformed request.
  bool conflict = false;
  int http_status = 400;
  std::string_view http_code; ///< "wrong_expected_version", "duplicate_id", "bad_request"
  std::string http_message;
  /// Set for wrong_expected_version: REST adds it to the error object.
  std::optional<uint64_t> actual_version;
  error_code rpc_code = error_code::bad_request;
  std::string rpc_message;
};

/// How `r` is refused, or nullopt when it succeeded (ok or idempotent).
std::optional<append_refusal> refusal_of(const storage::append_result& r);

} // namespace herald::protocol
