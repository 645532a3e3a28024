#include "net/server.hpp"

#include "net/http_session.hpp"
#include "net/io_loop.hpp"
#include "net/server_context.hpp"
#include "net/ws_connection.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>

#include <spdlog/spdlog.h>

#include <cerrno>

namespace herald::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class listener : public std::enable_shared_from_this<listener> {
public:
  /// Listens on the first loop and hands each accepted socket to the next
  /// loop in turn.
  listener(std::vector<std::unique_ptr<io_loop>>& loops, tcp::endpoint ep,
           std::shared_ptr<server_context> ctx)
    : loops_(loops), acceptor_(loops.front()->context()), retry_(acceptor_.get_executor()),
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
    auto& loop = *loops_[next_loop_];
    next_loop_ = (next_loop_ + 1) % loops_.size();
    acceptor_.async_accept(loop.context(), [self = shared_from_this(), &loop](
                                             boost::system::error_code ec, tcp::socket socket) {
      self->on_accept(ec, std::move(socket), loop);
    });
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket, io_loop& loop) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open())
      return;
    if (out_of_resources(ec))
      return back_off(ec);
    if (starved_) {
      starved_ = false;
      spdlog::info("accepting connections again");
    }
    if (!ec)
      admit(std::move(socket), loop);
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
  void admit(tcp::socket socket, io_loop& loop) {
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
    std::make_shared<http_session>(std::move(socket), loop, ctx_)->run();
  }

  static constexpr std::chrono::milliseconds retry_after{100};

  std::vector<std::unique_ptr<io_loop>>& loops_;
  size_t next_loop_ = 0;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_; ///< waits before accepting again when out of descriptors
  bool starved_ = false;     ///< out of descriptors since the last accept
  bool full_logged_ = false; ///< over http.max_connections since the last admitted socket
  std::shared_ptr<server_context> ctx_;
};

server::server(caf::actor_system& sys, std::shared_ptr<const gateway::session_context> ctx)
  : ctx_(std::make_shared<server_context>(sys, ctx, std::make_shared<connection_registry>())) {
  for (int64_t i = 0; i < ctx->settings->server.io_threads; ++i)
    loops_.push_back(std::make_unique<io_loop>());
  const auto& l = ctx->settings->server.listen;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(l.host, ec);
  if (ec)
    throw std::system_error(ec, "cannot listen on " + l.host + ": not an IP address");
  listener_ = std::make_shared<listener>(loops_, tcp::endpoint(address, l.port), ctx_);
}

server::~server() {
  stop(std::chrono::milliseconds(0));
}

tcp::endpoint server::local_endpoint() const {
  return listener_->local_endpoint();
}

void server::start() {
  listener_->run();
  for (auto& loop : loops_)
    threads_.emplace_back([&loop] {
      // Runs until stop(), even while it has no socket.
      auto work = asio::make_work_guard(loop->context());
      loop->context().run();
    });
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
  for (auto& loop : loops_)
    loop->context().stop();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  threads_.clear();
}

} // namespace herald::net
