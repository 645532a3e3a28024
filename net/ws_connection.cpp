#include "net/ws_connection.hpp"

#include "net/http_util.hpp"
#include "protocol/ws_frame.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <boost/asio/post.hpp>

#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <limits>

namespace herald::net {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace asio = boost::asio;

namespace {

std::string remote_of(const beast::tcp_stream& s) {
  beast::error_code ec;
  auto ep = s.socket().remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

} // namespace

ws_connection::ws_connection(beast::tcp_stream&& stream, io_loop& loop, caf::actor_system& sys,
                             std::shared_ptr<const gateway::session_context> ctx,
                             std::shared_ptr<connection_registry> registry)
  : ws_(std::move(stream)), loop_(loop), sys_(sys), ctx_(std::move(ctx)),
    registry_(std::move(registry)), slot_(*registry_), close_timer_(ws_.get_executor()) {
  remote_ = remote_of(ws_.next_layer());
  beast::error_code ec;
  auto ep = ws_.next_layer().socket().remote_endpoint(ec);
  address_ = ec ? std::string("?") : ep.address().to_string();
}

ws_connection::~ws_connection() {
  release_pending();
  registry_->remove(this);
}

void ws_connection::start(request req) {
  // Sockets that never send connect would otherwise hold connection slots
  // for connect_timeout each, and could be reopened forever.
  const auto limit = static_cast<size_t>(ctx_->settings->websocket.max_pending_per_address);
  if (!registry_->admit_pending(address_, limit))
    return refuse_upgrade(req);
  pending_ = true;
  // Protocol pings (session actor) watch liveness; Beast's own timer only
  // bounds the handshake and the closing handshake.
  ws_.next_layer().expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::seconds(10);
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.set_option(websocket::stream_base::decorator(
    [](websocket::response_type& res) { res.set(beast::http::field::server, "herald"); }));
  // websocket.max_message_bytes is enforced in on_read, not by Beast: Beast
  // 1.74 answers a message too big with 1009 but then closes the socket
  // while the client is still sending, and the reset makes the client lose
  // the close frame (it sees 1006, not 1009). herald closes with a proper
  // closing handshake instead, which drains what the client still sends.
  // Beast's own limit is left for frame lengths with the top bit set,
  // which RFC 6455 forbids and Beast 1.74 does not check otherwise.
  ws_.read_message_max(std::numeric_limits<std::size_t>::max() >> 1);
  ws_.auto_fragment(false);
  ws_.async_accept(req, beast::bind_front_handler(&ws_connection::on_accept, shared_from_this()));
}

void ws_connection::refuse_upgrade(const request& req) {
  namespace http = beast::http;
  ++ctx_->metrics->refused_connections;
  auto res = std::make_shared<http::response<http::string_body>>(http::status::too_many_requests,
                                                                 req.version());
  res->set(http::field::server, "herald");
  res->set(http::field::content_type, "application/json");
  res->keep_alive(false);
  res->body() = error_body("too_many_pending",
                           "too many connections from this address have not sent connect yet "
                           "(websocket.max_pending_per_address)");
  res->prepare_payload();
  auto& stream = ws_.next_layer();
  stream.expires_after(std::chrono::seconds(5));
  http::async_write(stream, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
    beast::error_code ignored;
    auto& sock = self->ws_.next_layer().socket();
    sock.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    sock.close(ignored);
  });
}

void ws_connection::connected() {
  release_pending();
}

void ws_connection::release_pending() {
  if (pending_.exchange(false))
    registry_->release_pending(address_);
}

void ws_connection::on_accept(beast::error_code ec) {
  if (ec)
    return; // the handshake failed; dropping the connection is all there is
  if (registry_->size() >= static_cast<size_t>(ctx_->settings->websocket.max_connections)) {
    ++ctx_->metrics->refused_connections;
    close(protocol::close_code::connection_limit,
          "connection limit"); // terminal: the SDK does not retry
    do_read();                 // to see the client's close reply
    return;
  }
  registry_->add(shared_from_this());
  session_ = gateway::spawn_session(sys_, ctx_, weak_from_this(), remote_);
  do_read();
}

void ws_connection::do_read() {
  // Never more than one byte past the limit, to see a message exceed it.
  auto max = static_cast<size_t>(ctx_->settings->websocket.max_message_bytes);
  // Between messages a small read: every connection has one pending, so its
  // buffer is part of each connection's memory (a command is mostly a few
  // hundred bytes; a longer message is read on in larger pieces).
  const size_t piece = buffer_.size() == 0 ? idle_read_bytes : size_t{1} << 20;
  auto limit = std::min<size_t>(max + 1 - std::min(buffer_.size(), max), piece);
  ws_.async_read_some(buffer_, limit,
                      beast::bind_front_handler(&ws_connection::on_read, shared_from_this()));
}

void ws_connection::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    // Closed by the peer, a protocol error (Beast answered it, e.g. 1009
    // for too big, 1007 for bad UTF-8), or torn down by us.
    finish();
    return;
  }
  if (finished_ || close_pending_ || !session_)
    return;
  if (buffer_.size() > static_cast<size_t>(ctx_->settings->websocket.max_message_bytes)) {
    buffer_.consume(buffer_.size());
    close(protocol::close_code::message_too_big,
          "message too big"); // the SDK stops for good (docs/protocol.md, "Codes")
    return;
  }
  if (!ws_.got_text()) {
    buffer_.consume(buffer_.size());
    close(protocol::close_code::bad_request, "bad request"); // the JSON protocol is text only
    return;
  }
  if (!ws_.is_message_done())
    return do_read();
  caf::anon_send(session_, gateway::frame_atom_v, beast::buffers_to_string(buffer_.data()));
  buffer_.consume(buffer_.size());
  if (buffer_.capacity() > keep_out_bytes)
    buffer_ = beast::flat_buffer(); // a large message's buffer is not kept either
  do_read();
}

void ws_connection::send(std::vector<actors::frame_ptr> frames) {
  if (slow_.load(std::memory_order_relaxed))
    return;
  size_t bytes = 0;
  for (const auto& f : frames)
    bytes += f->size() + 1;
  auto total_bytes = queued_bytes_ += bytes;
  auto total_frames = queued_frames_ += frames.size();
  const auto& limits = ctx_->settings->websocket;
  if (total_bytes > static_cast<size_t>(limits.max_queued_bytes)
      || total_frames > static_cast<size_t>(limits.max_queued_messages)) {
    if (!slow_.exchange(true)) {
      ++ctx_->metrics->slow_consumers;
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->drop_slow_consumer(); });
    }
    return;
  }
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(handover_mu_);
    if (handover_.empty())
      handover_ = std::move(frames);
    else
      handover_.insert(handover_.end(), std::make_move_iterator(frames.begin()),
                       std::make_move_iterator(frames.end()));
    post = !handover_posted_;
    handover_posted_ = true;
  }
  if (post)
    loop_.write_soon(shared_from_this());
}

void ws_connection::take_handover() {
  std::vector<actors::frame_ptr> frames;
  {
    std::lock_guard<std::mutex> lock(handover_mu_);
    frames.swap(handover_);
    handover_posted_ = false;
  }
  if (finished_ || close_pending_) {
    queued_bytes_ = 0;
    queued_frames_ = 0;
    return;
  }
  for (auto& f : frames)
    queue_.push_back(std::move(f));
  if (!write_in_flight_)
    do_write();
}

void ws_connection::do_write() {
  while (!queue_.empty() && !write_in_flight_ && !finished_) {
    writing_.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    frame_out();
    write_in_flight_ = true;
    if (!send_out())
      return; // the rest goes when the socket has room (on_writable)
    complete_write({});
  }
  if (queue_.empty() && !write_in_flight_ && close_pending_ && !finished_)
    do_close();
}

// Fan-out is bound by the cost of each write. Everything waiting for this
// connection becomes one WebSocket message (frames joined by '\n') in one
// contiguous buffer, so that one send() carries it: a buffer per frame
// would cost a sendmsg per 64 of them (the kernel's and Asio's limit on
// iovecs per call), and a Beast write costs several times the send beneath
// it. A server frame is a 2 to 10 byte header and the unmasked payload.
void ws_connection::frame_out() {
  size_t payload = writing_.size() - 1;
  for (const auto& f : writing_)
    payload += f->size();
  protocol::ws_header header{};
  const size_t header_size =
    protocol::encode_ws_header(header, protocol::ws_opcode::text, true, payload);
  out_.clear();
  out_.reserve(header_size + payload);
  out_.append(header.data(), header_size);
  for (size_t i = 0; i < writing_.size(); ++i) {
    if (i)
      out_ += '\n';
    out_ += *writing_[i];
  }
  out_sent_ = 0;
}

/// Sends what is left of out_ without blocking: true when all of it went
/// (or the socket failed: write_error_ says), false when the socket is full
/// and the rest waits for it to drain.
bool ws_connection::send_out() {
  auto& sock = ws_.next_layer().socket();
  while (out_sent_ < out_.size()) {
    ssize_t n = ::send(sock.native_handle(), out_.data() + out_sent_, out_.size() - out_sent_,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      out_sent_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      sock.async_wait(asio::socket_base::wait_write,
                      beast::bind_front_handler(&ws_connection::on_writable, shared_from_this()));
      return false;
    }
    write_error_ = beast::error_code(n < 0 ? errno : EPIPE, beast::system_category());
    return true;
  }
  return true;
}

void ws_connection::on_writable(beast::error_code ec) {
  if (ec || finished_)
    return complete_write(ec ? ec : beast::error_code(asio::error::operation_aborted));
  if (!send_out())
    return;
  complete_write({});
  do_write();
}

void ws_connection::complete_write(beast::error_code ec) {
  if (!ec)
    ec = std::exchange(write_error_, {});
  write_in_flight_ = false;
  // A burst's buffer is not kept: idle connections stay small.
  if (out_.capacity() > keep_out_bytes)
    std::string().swap(out_);
  size_t bytes = 0;
  for (const auto& f : writing_)
    bytes += f->size() + 1;
  queued_bytes_ -= std::min(bytes, queued_bytes_.load());
  queued_frames_ -= std::min(writing_.size(), queued_frames_.load());
  writing_.clear();
  if (ec)
    return finish();
  if (on_drained_ && queue_.empty() && queued_bytes_ == 0)
    std::exchange(on_drained_, nullptr)();
}

void ws_connection::when_drained(std::function<void()> fn) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), fn = std::move(fn)]() mutable {
    if (self->finished_)
      return;
    if (!self->write_in_flight_ && self->queue_.empty() && self->queued_bytes_ == 0)
      fn();
    else
      self->on_drained_ = std::move(fn);
  });
}

void ws_connection::close(protocol::close_code code, std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    if (self->finished_ || self->close_pending_)
      return;
    self->close_pending_ = true;
    self->close_code_ = code;
    self->close_reason_ = reason;
    self->close_timer_.expires_after(self->ctx_->settings->websocket.close_timeout);
    self->close_timer_.async_wait([self](beast::error_code ec) {
      if (!ec)
        self->finish(); // the peer did not take what was left, nor the close
    });
    if (!self->write_in_flight_)
      self->do_write(); // sends what is queued, then closes
  });
}

void ws_connection::drop_slow_consumer() {
  // What is in flight stays (it is partly in the socket already); what
  // waits behind it goes, so memory stops growing now.
  {
    std::lock_guard<std::mutex> lock(handover_mu_);
    handover_.clear();
  }
  queue_.clear();
  size_t in_flight = 0;
  for (const auto& f : writing_)
    in_flight += f->size() + 1;
  queued_bytes_ = in_flight;
  queued_frames_ = writing_.size();
  if (session_)
    caf::anon_send(session_, gateway::close_atom_v, protocol::value(protocol::close_code::slow),
                   std::string("slow"));
  close(protocol::close_code::slow, "slow");
}

void ws_connection::do_close() {
  websocket::close_reason reason(static_cast<websocket::close_code>(protocol::value(close_code_)),
                                 close_reason_);
  ws_.async_close(reason, [self = shared_from_this()](beast::error_code) { self->finish(); });
}

void ws_connection::finish() {
  if (finished_)
    return;
  finished_ = true;
  on_drained_ = nullptr;
  close_timer_.cancel();
  if (session_) {
    caf::anon_send_exit(session_, caf::exit_reason::user_shutdown);
    session_ = nullptr;
  }
  beast::error_code ignored;
  ws_.next_layer().socket().close(ignored);
}

size_t ws_connection::queued_bytes() const {
  return queued_bytes_.load();
}

size_t ws_connection::queued_frames() const {
  return queued_frames_.load();
}

void ws_connection::shut_down(protocol::close_code code, const std::string& reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason] {
    if (self->session_)
      caf::anon_send(self->session_, gateway::close_atom_v, protocol::value(code), reason);
    else
      self->close(code, reason);
  });
}

void connection_registry::add(const std::shared_ptr<ws_connection>& c) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.push_back(c);
}

void connection_registry::remove(const ws_connection* c) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = open_.begin(); it != open_.end(); ++it) {
    auto p = it->lock();
    if (!p || p.get() == c) {
      *it = open_.back();
      open_.pop_back();
      return;
    }
  }
}

void connection_registry::shut_down_all(protocol::close_code code, const std::string& reason) {
  std::vector<std::shared_ptr<ws_connection>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& w : open_)
      if (auto p = w.lock())
        all.push_back(std::move(p));
  }
  for (auto& c : all)
    c->shut_down(code, reason);
}

connection_registry::backlog connection_registry::queued() const {
  backlog b;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& w : open_)
    if (auto p = w.lock()) {
      auto bytes = p->queued_bytes();
      b.total_bytes += bytes;
      b.largest_bytes = std::max(b.largest_bytes, bytes);
    }
  return b;
}

socket_slot::socket_slot(connection_registry& registry) : registry_(registry) {
  ++registry_.sockets_;
}

socket_slot::~socket_slot() {
  --registry_.sockets_;
}

size_t connection_registry::sockets() const {
  return sockets_.load();
}

bool connection_registry::admit_pending(const std::string& address, size_t limit) {
  std::lock_guard<std::mutex> lock(pending_mu_);
  auto& n = pending_[address];
  if (n >= limit)
    return false;
  ++n;
  return true;
}

void connection_registry::release_pending(const std::string& address) {
  std::lock_guard<std::mutex> lock(pending_mu_);
  auto it = pending_.find(address);
  if (it != pending_.end() && --it->second == 0)
    pending_.erase(it); // no entry per address ever seen
}

size_t connection_registry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

} // namespace herald::net
