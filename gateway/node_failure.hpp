// How an error of the node's actors (actors/errors.hpp) is answered: to a
// REST caller and to a WebSocket client. One table for both APIs.
//
// It needs only actors/ and protocol/, so it sits with the session actor in
// the gateway layer, where net/ (REST) reaches it too.
#pragma once

#include "actors/errors.hpp"
#include "protocol/append_outcome.hpp"

#include <string>
#include <string_view>

namespace herald::gateway {

struct node_failure {
  int http_status = 500;
  std::string_view http_code; ///< "overloaded", "not_found", "timeout", ...
  std::string http_message;   ///< the error's own message
  protocol::error_code reply = protocol::error_code::internal;
  std::string reply_message;
  bool temporary = false; ///< the client may retry the command
};

/// How `code` with the error's message `message` is answered.
node_failure failure_of(actors::errc code, std::string message);

/// failure_of the herald code and message of `e` (internal for errors of
/// other categories).
node_failure failure_of(const caf::error& e);

} // namespace herald::gateway
