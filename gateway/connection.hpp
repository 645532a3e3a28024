// A session actor's view of its client connection. net/ implements it over a
// WebSocket; actors never see sockets. Every call is thread-safe: it queues
// work for the connection's own executor and returns at once.
#pragma once

#include "protocol/codes.hpp"
#include "protocol/frame.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace herald::gateway {

class connection {
public:
  virtual ~connection() = default;

  /// Queues frames to go out in order. Frames queued together, or while a
  /// write is in flight, leave in one WebSocket message (joined by '\n').
  virtual void send(std::vector<protocol::frame_ptr> frames) = 0;

  /// Sends what is queued, then a close frame with `code` and `reason`.
  virtual void close(protocol::close_code code, std::string reason) = 0;

  /// Bytes queued and not written yet (for the slow-consumer policy).
  virtual size_t queued_bytes() const = 0;

  /// Frames queued and not written yet.
  virtual size_t queued_frames() const = 0;

  /// Calls `fn` once, from any thread, when everything queued so far has
  /// been written to the socket (at once if nothing is queued). Not called
  /// if the connection ends first.
  virtual void when_drained(std::function<void()> fn) = 0;

  /// The client completed connect: it is no longer one of its address's
  /// pending connections (websocket.max_pending_per_address).
  virtual void connected() {}
};

} // namespace herald::gateway
