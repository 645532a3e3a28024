// The network edge of a node: one listener for HTTP and WebSocket on
// server.listen, and server.io_threads I/O loops (one thread each) that the
// accepted sockets are spread over.
#pragma once

#include "gateway/session_actor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace caf {
class actor_system;
}

namespace herald::net {

struct server_context;
class listener;
class io_loop;

class server {
public:
  /// Binds the listener; throws std::system_error when it cannot (address
  /// in use, no permission).
  server(caf::actor_system& sys, std::shared_ptr<const gateway::session_context> ctx);
  ~server();

  /// The address actually bound (a port of 0 picks a free one).
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  /// Starts the I/O threads and marks the node ready (/health: 200).
  void start();

  /// Stops accepting, closes every WebSocket session with 3001 "shutdown",
  /// waits up to `grace` for them to go, then stops the I/O threads.
  void stop(std::chrono::milliseconds grace);

private:
  std::shared_ptr<server_context> ctx_;
  std::vector<std::unique_ptr<io_loop>> loops_; ///< one per I/O thread (net/io_loop.hpp)
  std::shared_ptr<listener> listener_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

} // namespace herald::net
