#include "net/server.hpp"

#include "net/http_session.hpp"
#include "net/server_context.hpp"
#include "net/ws_connection.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include <spdlog/spdlog.h>

#include <cerrno>

namespace herald::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class listener : public std::enable_shared_from_this<listener> {
public:
  listener(asio::io_context& ioc, tcp::endpoint ep, std::shared_ptr<server_context> ctx)
    : ioc_(ioc), acceptor_(asio::make_strand(ioc)), retry_(acceptor_.get_executor()),
      ctx_(std::move(ctx)) {
    boost::system::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec)
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor_.bind(ep, ec);
    if (!ec)
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::system_error(ec, "cannot listen on " + ep.address().to_string() + ":"
                                    + std::to_string(ep.port()));
  }

  tcp::endpoint local_endpoint() const {
    return acceptor_.local_endpoint();
  }

  void run() {
    do_accept();
  }

  void stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
    });
  }

private:
  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), boost::beast::bind_front_handler(
                                                      &listener::on_accept, shared_from_this()));
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open())
      return;
    if (out_of_resources(ec))
      return back_off(ec);
    if (starved_) {
      starved_ = false;
      spdlog::info("accepting connections again");
    }
    if (!ec)
      admit(std::move(socket));
    do_accept();
  }

  /// Out of descriptors (or kernel memory): accepting again at once fails
  /// the same way, and the pending connection keeps the acceptor ready, so
  /// retrying at once would spin. The connection waits in the backlog.
  static bool out_of_resources(const boost::system::error_code& ec) {
    return ec == asio::error::no_descriptors || ec.value() == ENFILE
           || ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
  }

  void back_off(const boost::system::error_code& ec) {
    if (!starved_) {
      starved_ = true; // one line per burst, not one per attempt
      spdlog::warn("cannot accept connections: {}; retrying every {} ms", ec.message(),
                   retry_after.count());
    }
    retry_.expires_after(retry_after);
    retry_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e && self->acceptor_.is_open())
        self->do_accept();
    });
  }

  /// Every socket counts against http.max_connections; over it, the socket
  /// is closed at once: nothing is read from it, nothing is spent on it.
  void admit(tcp::socket socket) {
    boost::system::error_code ignored;
    const auto max = static_cast<size_t>(ctx_->settings().http.max_connections);
    if (ctx_->connections->sockets() >= max) {
      ++ctx_->session->metrics->refused_connections;
      if (!full_logged_) {
        full_logged_ = true;
        spdlog::warn("refusing connections: http.max_connections ({}) sockets are open", max);
      }
      socket.close(ignored);
      return;
    }
    full_logged_ = false;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<http_session>(std::move(socket), ctx_)->run();
  }

  static constexpr std::chrono::milliseconds retry_after{100};

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_; ///< waits before accepting again when out of descriptors
  bool starved_ = false;     ///< out of descriptors since the last accept
  bool full_logged_ = false; ///< over http.max_connections since the last admitted socket
  std::shared_ptr<server_context> ctx_;
};

server::server(caf::actor_system& sys, std::shared_ptr<const gateway::session_context> ctx)
  : ctx_(std::make_shared<server_context>(sys, ctx, std::make_shared<connection_registry>())),
    ioc_(static_cast<int>(ctx->settings->server.io_threads)),
    thread_count_(static_cast<size_t>(ctx->settings->server.io_threads)) {
  const auto& l = ctx->settings->server.listen;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(l.host, ec);
  if (ec)
    throw std::system_error(ec, "cannot listen on " + l.host + ": not an IP address");
  listener_ = std::make_shared<listener>(ioc_, tcp::endpoint(address, l.port), ctx_);
}

server::~server() {
  stop(std::chrono::milliseconds(0));
}

tcp::endpoint server::local_endpoint() const {
  return listener_->local_endpoint();
}

void server::start() {
  listener_->run();
  for (size_t i = 0; i < thread_count_; ++i)
    threads_.emplace_back([this] { ioc_.run(); });
  ctx_->ready = true;
}

void server::stop(std::chrono::milliseconds grace) {
  if (stopped_)
    return;
  stopped_ = true;
  ctx_->stopping = true;
  listener_->stop();
  ctx_->connections->shut_down_all(protocol::close_code::shutdown, "shutdown");
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (ctx_->connections->size() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ioc_.stop();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  threads_.clear();
}

} // namespace herald::net
