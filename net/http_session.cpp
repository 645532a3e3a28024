#include "net/http_session.hpp"

#include "net/http_util.hpp"
#include "net/origin.hpp"
#include "net/rest_api.hpp"
#include "net/ws_connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>

namespace herald::net {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;

http_session::http_session(asio::ip::tcp::socket&& socket, io_loop& loop,
                           std::shared_ptr<server_context> ctx)
  : stream_(std::move(socket)), loop_(loop), ctx_(std::move(ctx)), slot_(*ctx_->connections) {}

void http_session::run() {
  asio::dispatch(stream_.get_executor(),
                 beast::bind_front_handler(&http_session::do_read, shared_from_this()));
}

void http_session::do_read() {
  const auto& h = ctx_->settings().http;
  parser_.emplace();
  parser_->body_limit(static_cast<std::uint64_t>(h.max_body_bytes));
  parser_->header_limit(16 * 1024);
  // A request must arrive whole within the header timeout from its first
  // byte (slow clients cannot hold a connection). On a kept-alive
  // connection the wait for that first byte is the idle timeout.
  if (first_ || buffer_.size() > 0)
    return read_request();
  stream_.expires_after(h.idle_timeout);
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            if (ec)
                              return self->do_close();
                            self->buffer_.commit(n);
                            self->read_request();
                          });
}

void http_session::read_request() {
  stream_.expires_after(ctx_->settings().http.header_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code ec, std::size_t) {
  first_ = false;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout
      || ec == asio::error::operation_aborted)
    return do_close();
  if (ec == http::error::header_limit) {
    http_request req;
    req.version(11);
    req.keep_alive(false);
    return send(error_response(req, http::status::request_header_fields_too_large,
                               "headers_too_large", "the request headers are too large"));
  }
  if (ec == http::error::body_limit) {
    http_request req;
    req.version(11);
    req.keep_alive(false);
    return send(error_response(req, http::status::payload_too_large, "too_large",
                               "the request body is too large"));
  }
  if (ec) {
    // Not HTTP: answer 400 and close, as a courtesy to a confused client.
    http_request req;
    req.version(11);
    req.keep_alive(false);
    return send(
      error_response(req, http::status::bad_request, "bad_request", "malformed HTTP request"));
  }
  if (parser_->get().find(http::field::transfer_encoding) != parser_->get().end()
      && !parser_->chunked()) {
    // A transfer coding other than chunked last: the body's length is
    // unknown, so what follows cannot be told from the next request
    // (RFC 9112 §6.3: answer 400 and close).
    http_request req;
    req.version(11);
    req.keep_alive(false);
    return send(error_response(req, http::status::bad_request, "bad_request",
                               "unsupported Transfer-Encoding"));
  }
  auto req = parser_->release();
  if (beast::websocket::is_upgrade(req)) {
    auto target = req.target();
    auto path = target.substr(0, target.find('?'));
    if (path == "/connection/websocket" && !ctx_->stopping
        && !origin_allowed(as_std(req[http::field::origin]), as_std(req[http::field::host]),
                           ctx_->settings().websocket.allowed_origins)) {
      ++ctx_->session->metrics->refused_connections;
      req.keep_alive(false);
      return send(error_response(req, http::status::forbidden, "forbidden",
                                 "this Origin may not connect (see "
                                 "websocket.allowed_origins)"));
    }
    if (path == "/connection/websocket" && !ctx_->stopping) {
      auto conn = std::make_shared<ws_connection>(std::move(stream_), loop_, ctx_->sys,
                                                  ctx_->session, ctx_->connections);
      conn->start(std::move(req));
      return;
    }
    req.keep_alive(false);
    return send(error_response(req, http::status::not_found, "not_found",
                               "WebSockets are served on "
                               "/connection/websocket"));
  }
  stream_.expires_never(); // the node may take its time; http.request_timeout bounds it
  handle_request(ctx_, std::move(req), [self = shared_from_this()](http_response res) {
    asio::post(self->stream_.get_executor(),
               [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
  });
}

void http_session::send(http::response<http::string_body> res) {
  auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
  in_flight_ = sp;
  bool close = sp->need_eof();
  stream_.expires_after(ctx_->settings().http.idle_timeout);
  http::async_write(stream_, *sp,
                    beast::bind_front_handler(&http_session::on_write, shared_from_this(), close));
}

void http_session::on_write(bool close, beast::error_code ec, std::size_t) {
  in_flight_.reset();
  if (ec)
    return do_close();
  if (close)
    return linger_close();
  do_read();
}

void http_session::do_close() {
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.close();
}

// After an answer that ends the connection (often an error, sent before the
// request was read whole: a body too large, garbage), the client may still
// be sending. Closing the socket with its bytes unread makes the kernel
// reset the connection, and the reset can destroy the answer before the
// client reads it. So: stop sending, read and drop what still comes, until
// the client closes too or http.header_timeout passes.
void http_session::linger_close() {
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(ctx_->settings().http.header_timeout);
  drain();
}

void http_session::drain() {
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(16 * 1024),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec)
                              return self->stream_.close(); // the client's end, or the timeout
                            self->drain();
                          });
}

} // namespace herald::net
