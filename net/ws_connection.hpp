// One WebSocket client connection: owns the socket (on the I/O loop that
// accepted it: net/io_loop.hpp) and implements gateway::connection for its
// session actor.
//
// Reading: each WebSocket message goes to the session actor as
// (frame_atom, text). A binary message closes the connection with 3501, a
// message over websocket.max_message_bytes with 1009.
//
// Writing: frames from the session and from its channels' direct lines
// (gateway/subscription_sink.hpp) queue up; one write is in flight at a
// time, and everything queued when it starts leaves in that one WebSocket
// message, joined by '\n' (the protocol allows it: docs/protocol.md, "Connection rules"). This is
// the per-connection coalescing that fan-out speed depends on: one write per connection per turn,
// however many publications are waiting.
//
// Slow consumers: what waits for the socket (handed over, queued, in flight)
// is bounded by websocket.max_queued_bytes and max_queued_messages. Past
// either, the queue is dropped and the connection closed with 3008 "slow";
// the client recovers what it missed from the journal when it resubscribes.
// A close that cannot drain within websocket.close_timeout (the client reads
// nothing) cuts the socket.
//
// Lifetime: the connection holds the session actor strongly; the actor holds
// the connection weakly. When the socket closes, the actor is told to exit.
#pragma once

#include "gateway/connection.hpp"
#include "gateway/session_actor.hpp"
#include "net/io_loop.hpp"
#include "protocol/ws_frame.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace herald::net {

class connection_registry;

/// One open socket, HTTP or WebSocket, counted against http.max_connections
/// for as long as it lives (an upgraded socket is counted by its
/// ws_connection once its http_session is gone).
class socket_slot {
public:
  explicit socket_slot(connection_registry& registry);
  ~socket_slot();
  socket_slot(const socket_slot&) = delete;
  socket_slot& operator=(const socket_slot&) = delete;

private:
  connection_registry& registry_;
};

class ws_connection : public gateway::connection,
                      public std::enable_shared_from_this<ws_connection> {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  ws_connection(boost::beast::tcp_stream&& stream, io_loop& loop, caf::actor_system& sys,
                std::shared_ptr<const gateway::session_context> ctx,
                std::shared_ptr<connection_registry> registry);
  ~ws_connection() override;

  /// Completes the handshake for `req` and starts the session.
  void start(request req);

  // gateway::connection
  void send(std::vector<actors::frame_ptr> frames) override;
  void close(protocol::close_code code, std::string reason) override;
  size_t queued_bytes() const override;
  size_t queued_frames() const override;
  void when_drained(std::function<void()> fn) override;
  void connected() override;

  /// Asks the session to close with `code` (graceful shutdown).
  void shut_down(protocol::close_code code, const std::string& reason);

  /// Takes what send() handed over and writes it (the loop's flush).
  void take_handover();

private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void do_write();
  void frame_out();
  bool send_out();
  void on_writable(boost::beast::error_code ec);
  void complete_write(boost::beast::error_code ec);
  void do_close();
  void finish();
  void drop_slow_consumer();
  /// Answers the upgrade with 429: too many connections from this address
  /// have not completed connect (websocket.max_pending_per_address).
  void refuse_upgrade(const request& req);
  void release_pending();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  io_loop& loop_;
  boost::beast::flat_buffer buffer_;
  caf::actor_system& sys_;
  std::shared_ptr<const gateway::session_context> ctx_;
  std::shared_ptr<connection_registry> registry_;
  socket_slot slot_;
  gateway::session_actor session_;
  std::string remote_;
  std::string address_;              ///< the peer's IP address, for the pending count
  std::atomic<bool> pending_{false}; ///< counted as pending for address_ (no connect yet)
  // Loop-thread-only state.
  std::deque<actors::frame_ptr> queue_;
  std::vector<actors::frame_ptr> writing_;       ///< the frames of the write in flight
  std::string out_;                              ///< that write as one WebSocket frame
  size_t out_sent_ = 0;                          ///< how much of out_ the socket took
  boost::beast::error_code write_error_;         ///< how the last send failed, if it did
  static constexpr size_t keep_out_bytes = 4096; ///< a larger buffer is given back after use
  static constexpr size_t idle_read_bytes = 512; ///< the read pending between messages
  bool write_in_flight_ = false;
  bool close_pending_ = false;
  std::function<void()> on_drained_;      ///< when_drained's callback, loop thread only
  boost::asio::steady_timer close_timer_; ///< bounds how long a close may drain
  bool finished_ = false;
  protocol::close_code close_code_ = protocol::close_code::normal;
  std::string close_reason_;
  // Frames handed over by send() from other threads since the loop last
  // took them: the connection is on the loop's due list once for all of
  // them (handover_posted_).
  std::mutex handover_mu_;
  std::vector<actors::frame_ptr> handover_;
  bool handover_posted_ = false;
  // Read by the session from its own thread.
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<size_t> queued_frames_{0};
  std::atomic<bool> slow_{false}; ///< over the queue bounds: closing with 3008
};

/// The open connections, so that shutdown can close them all.
class connection_registry {
public:
  void add(const std::shared_ptr<ws_connection>& c);
  void remove(const ws_connection* c);
  /// Every open connection's session is asked to close with `code`.
  void shut_down_all(protocol::close_code code, const std::string& reason);
  size_t size() const;

  /// Outgoing bytes waiting for sockets: in all, and on the fullest
  /// connection (for /metrics: what slow readers cost this node).
  struct backlog {
    size_t total_bytes = 0;
    size_t largest_bytes = 0;
  };
  backlog queued() const;

  /// Open sockets of every kind (see socket_slot).
  size_t sockets() const;

  /// Counts one more connection from `address` that has not completed
  /// connect, unless `limit` of them are there already (then false).
  bool admit_pending(const std::string& address, size_t limit);
  void release_pending(const std::string& address);

private:
  friend class socket_slot;
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<ws_connection>> open_;
  std::atomic<size_t> sockets_{0};
  std::mutex pending_mu_;
  std::unordered_map<std::string, size_t> pending_;
};

} // namespace herald::net
