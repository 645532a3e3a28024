#include "gateway/node_failure.hpp"

namespace herald::gateway {

namespace {

using protocol::error_code;

/// WebSocket clients learn only what they can act on: slow down, fix the
/// request, or retry later; the node's internals stay behind "internal".
node_failure with_reply(int status, std::string_view code, std::string message,
                        error_code reply = error_code::internal) {
  switch (reply) {
    case error_code::too_many_requests:
      return {status, code, std::move(message), reply, "too many requests", true};
    case error_code::bad_request:
      return {status, code, message, reply, message, false};
    default:
      return {status, code, std::move(message), error_code::internal, "internal server error",
              true};
  }
}

} // namespace

node_failure failure_of(actors::errc code, std::string message) {
  using actors::errc;
  switch (code) {
    case errc::overloaded:
      return with_reply(429, "overloaded", std::move(message), error_code::too_many_requests);
    case errc::bad_request:
      return with_reply(400, "bad_request", std::move(message), error_code::bad_request);
    case errc::not_found:
      return with_reply(404, "not_found", std::move(message));
    case errc::timeout:
      return with_reply(503, "timeout", std::move(message));
    case errc::unavailable:
      return with_reply(503, "unavailable", std::move(message));
    case errc::damaged:
      return with_reply(503, "damaged", std::move(message));
    case errc::internal:
      break;
  }
  return with_reply(500, "internal", std::move(message));
}

node_failure failure_of(const caf::error& e) {
  return failure_of(actors::code_of(e), actors::message_of(e));
}

} // namespace herald::gateway
