// A subscriber's direct line to its client's outgoing queue. A channel hands
// a live subscriber's publications to it from the channel's own thread
// instead of sending them to the subscriber's session actor: under fan-out,
// a message per subscriber per committed batch (a mailbox enqueue and an
// actor run each) costs more than the delivery itself. The gateway
// implements it; the core sees no connection.
#pragma once

#include "protocol/frame.hpp"

#include <memory>
#include <vector>

namespace herald::actors {

class subscriber_sink {
public:
  virtual ~subscriber_sink() = default;

  /// Takes publications (or join/leave pushes) of one channel, in that
  /// channel's order. Called from the channel's thread: thread-safe, never
  /// blocks on I/O.
  virtual void deliver(const std::vector<protocol::frame_ptr>& frames) = 0;
};

using sink_ptr = std::shared_ptr<subscriber_sink>;

} // namespace herald::actors
