// One HTTP connection: reads requests (header time and body size bounded by
// the http settings), answers them through rest_api, keeps the connection
// alive between requests, and hands WebSocket upgrades on
// /connection/websocket over to a ws_connection.
#pragma once

#include "net/server_context.hpp"
#include "net/ws_connection.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>

namespace herald::net {

class http_session : public std::enable_shared_from_this<http_session> {
public:
  /// `loop` is the I/O loop `socket` belongs to (a WebSocket stays on it).
  http_session(boost::asio::ip::tcp::socket&& socket, io_loop& loop,
               std::shared_ptr<server_context> ctx);

  void run();

private:
  void do_read();
  void read_request();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void send(boost::beast::http::response<boost::beast::http::string_body> res);
  void on_write(bool close, boost::beast::error_code ec, std::size_t bytes);
  void do_close();
  void linger_close();
  void drain();

  boost::beast::tcp_stream stream_;
  io_loop& loop_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<server_context> ctx_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<void> in_flight_; ///< the response being written
  bool first_ = true;
  socket_slot slot_; ///< counted against http.max_connections while open
};

} // namespace herald::net
