// What the network edge shares between its listener, HTTP sessions and
// WebSocket connections.
#pragma once

#include "gateway/session_actor.hpp"

#include <atomic>
#include <chrono>
#include <memory>

namespace caf {
class actor_system;
}

namespace herald::net {

class connection_registry;

struct server_context {
  server_context(caf::actor_system& s, std::shared_ptr<const gateway::session_context> ctx,
                 std::shared_ptr<connection_registry> conns)
    : sys(s), session(std::move(ctx)), connections(std::move(conns)) {}

  caf::actor_system& sys;
  std::shared_ptr<const gateway::session_context> session;
  std::shared_ptr<connection_registry> connections;
  /// /health answers 200 only while ready and not stopping.
  std::atomic<bool> ready{false};
  std::atomic<bool> stopping{false};
  /// When the node started serving (the server API's info: uptime).
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  const config::settings& settings() const {
    return *session->settings;
  }
  const actors::node& node() const {
    return session->handles;
  }
};

} // namespace herald::net
