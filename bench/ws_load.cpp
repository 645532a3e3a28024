// bench/ws_load: a WebSocket load generator. Opens N subscriber connections
// spread over C channels and P publisher connections, publishes at a fixed
// total rate with the send time in each payload, and measures deliveries/s,
// loss and publish-to-delivery latency (coordinated-omission safe: latency
// counts from the *scheduled* send time).
//
//   ws_load --port P [--protocol herald|plain|raw] [--connections 1000] [--channels 10]
//           [--publishers 10] [--rate 1000] [--size 100] [--seconds 5] [--drain 2]
//   ws_load --port P --idle N      open N idle connections, hold them, report
//   ws_load --port P --join N [--prefix chat:join] [--in-flight 200]
//                                  N connections all subscribing to one
//                                  channel, at most --in-flight handshakes
//                                  (connect + subscribe) at a time; reports
//                                  the time until all are subscribed, then
//                                  holds them like --idle
//   --sources K                    spread the client sockets over the local
//                                  addresses 127.0.0.1 .. 127.0.0.K (default:
//                                  as many as the connection count needs)
//
// One source address has about 28,000 ephemeral ports towards one server
// port (net.ipv4.ip_local_port_range 32768-60999), so more connections than
// that to a loopback server need more source addresses; all of 127/8 is
// loopback on Linux.
// --protocol herald speaks the centrifuge JSON protocol; plain speaks the
// yardstick's {"sub":C} / {"pub":C,"data":...} relay protocol
// (bench/yardstick/server.mjs); raw sends the payload alone, for the
// minimal C++ broadcast server (refserver: every message goes to every
// connection, one channel). Everything runs on one thread.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  std::string protocol = "herald";
  std::string channel_prefix = "bench:c";
  size_t connections = 1000;
  size_t channels = 10;
  size_t publishers = 10;
  double rate = 1000;
  size_t size = 100;
  double seconds = 5;
  double drain = 2;
  size_t idle = 0;
  size_t join = 0;
  size_t in_flight = 200;
  size_t sources = 0; ///< 0: as many as the connection count needs
};

/// Connections per source address before another one is used: below the
/// ~28,000 ephemeral ports, with room for the sockets of another run still
/// in TIME_WAIT.
constexpr size_t connections_per_source = 20000;

/// How many local source addresses `connections` client sockets need.
size_t sources_needed(const options& o, size_t connections) {
  if (o.sources > 0)
    return o.sources;
  return (connections + connections_per_source - 1) / connections_per_source;
}

/// The source address of the `index`-th connection, round robin over
/// 127.0.0.1 .. 127.0.0.`sources` (none for one source or a remote host:
/// the kernel chooses).
std::optional<asio::ip::address> source_address(const options& o, size_t sources, size_t index) {
  if (sources <= 1 || !asio::ip::make_address(o.host).is_loopback())
    return std::nullopt;
  asio::ip::address_v4::bytes_type b{127, 0, 0, 0};
  const size_t n = index % sources + 1; // 127.0.0.1, .2, ...
  b[1] = static_cast<unsigned char>(n >> 16);
  b[2] = static_cast<unsigned char>(n >> 8);
  b[3] = static_cast<unsigned char>(n);
  return asio::ip::address_v4(b);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
    .count();
}

struct stats {
  uint64_t delivered = 0;
  uint64_t published = 0;
  uint64_t replies = 0;
  uint64_t errors = 0;
  size_t ready = 0;
  std::vector<uint32_t> latencies_us;
};

class conn : public std::enable_shared_from_this<conn> {
public:
  conn(asio::io_context& ioc, const options& o, stats& s, std::string channel, bool publisher)
    : ws_(ioc), resolver_(ioc), o_(o), s_(s), channel_(std::move(channel)), publisher_(publisher) {}

  /// Connects from `source` when given (bound before connect), else from
  /// whatever address the kernel chooses.
  void start(std::function<void()> on_ready,
             std::optional<asio::ip::address> source = std::nullopt) {
    on_ready_ = std::move(on_ready);
    if (source && !bind_to(*source))
      return;
    beast::get_lowest_layer(ws_).async_connect(
      tcp::endpoint(asio::ip::make_address(o_.host), o_.port),
      [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

  void publish(const std::string& channel, int64_t scheduled_ns) {
    std::string pad(o_.size > 40 ? o_.size - 40 : 0, 'x');
    std::string data = "{\"ts\":" + std::to_string(scheduled_ns) + ",\"pad\":\"" + pad + "\"}";
    if (o_.protocol == "herald")
      queue_.push_back("{\"publish\":{\"channel\":\"" + channel + "\",\"data\":" + data
                       + "},\"id\":" + std::to_string(++id_) + "}");
    else if (o_.protocol == "raw")
      queue_.push_back(data);
    else
      queue_.push_back("{\"pub\":\"" + channel + "\",\"data\":" + data + "}");
    ++s_.published;
    if (!writing_)
      do_write();
  }

private:
  bool bind_to(const asio::ip::address& source) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    beast::error_code ec;
    socket.open(tcp::v4(), ec);
    if (!ec) {
      // Leave the port to connect(), which only needs the four-tuple to be
      // unique: bind() alone would take a port for every destination.
      const int on = 1;
      ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
      socket.bind(tcp::endpoint(source, 0), ec);
    }
    if (ec)
      fail("bind", ec);
    return !ec;
  }

  void on_connect(beast::error_code ec) {
    if (ec)
      return fail("connect", ec);
    // Without TCP_NODELAY, Nagle holds small publishes back for the
    // server's delayed ACK (tens of milliseconds).
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.async_handshake(
      o_.host + ":" + std::to_string(o_.port),
      o_.protocol == "herald" ? "/connection/websocket" : "/",
      [self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(beast::error_code ec) {
    if (ec)
      return fail("handshake", ec);
    if (o_.protocol == "herald") {
      std::string hello = "{\"connect\":{\"name\":\"ws_load\"},\"id\":1}";
      if (!publisher_ && !channel_.empty())
        hello += "\n{\"subscribe\":{\"channel\":\"" + channel_ + "\"},\"id\":2}";
      queue_.push_back(hello);
      id_ = 2;
    } else if (o_.protocol == "plain" && !publisher_ && !channel_.empty()) {
      queue_.push_back("{\"sub\":\"" + channel_ + "\"}");
    }
    if (!queue_.empty())
      do_write();
    if (o_.protocol != "herald" || publisher_ || channel_.empty())
      ready();
    do_read();
  }

  void ready() {
    if (is_ready_)
      return;
    is_ready_ = true;
    ++s_.ready;
    if (on_ready_)
      on_ready_();
  }

  // Reading is this generator's hot path (up to a million deliveries per
  // second on one thread), so after the handshake it reads the socket
  // itself and parses the server's frames (unmasked, RFC 6455 5.2): one
  // read per readable socket, no per-message allocation. Writes still go
  // through Beast (they are few).
  void do_read() {
    if (in_.size() - in_len_ < 64 * 1024)
      in_.resize(std::max(in_.size() * 2, in_len_ + 64 * 1024));
    beast::get_lowest_layer(ws_).socket().async_read_some(
      asio::buffer(in_.data() + in_len_, in_.size() - in_len_),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, size_t n) {
    if (ec)
      return fail("read", ec);
    in_len_ += n;
    const int64_t now = now_ns();
    size_t at = 0;
    while (in_len_ - at >= 2) {
      const auto* b = reinterpret_cast<const unsigned char*>(in_.data() + at);
      const unsigned opcode = b[0] & 0x0f;
      uint64_t len = b[1] & 0x7f;
      size_t header = 2;
      if (len == 126) {
        if (in_len_ - at < 4)
          break;
        len = (uint64_t{b[2]} << 8) | b[3];
        header = 4;
      } else if (len == 127) {
        if (in_len_ - at < 10)
          break;
        len = 0;
        for (int i = 0; i < 8; ++i)
          len = (len << 8) | b[2 + i];
        header = 10;
      }
      if (in_len_ - at < header + len)
        break;
      if (opcode == 0x8)
        return fail("read", websocket::error::closed);
      if (opcode == 0x1 || opcode == 0x0)
        on_message(std::string_view(in_.data() + at + header, static_cast<size_t>(len)), now);
      at += header + static_cast<size_t>(len);
    }
    std::memmove(in_.data(), in_.data() + at, in_len_ - at);
    in_len_ -= at;
    do_read();
  }

  // The generator must not be what limits a run: each message is read once,
  // line by line (a herald frame carries many pushes, one per line), and a
  // push is looked at only up to its timestamp.
  void on_message(std::string_view data, int64_t now) {
    while (!data.empty()) {
      auto nl = data.find('\n');
      on_line(data.substr(0, nl), now);
      data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
    }
  }

  void on_line(std::string_view line, int64_t now) {
    const bool push = o_.protocol != "herald" || line.substr(0, 8) == "{\"push\":";
    if (push) {
      // Every delivery carries "ts":N. The raw yardstick also echoes every
      // message to its publishers: not deliveries.
      auto at = line.find("\"ts\":");
      if (publisher_ || at == std::string_view::npos)
        return;
      int64_t ts = std::strtoll(line.data() + at + 5, nullptr, 10);
      ++s_.delivered;
      auto us = (now - ts) / 1000;
      s_.latencies_us.push_back(static_cast<uint32_t>(std::clamp<int64_t>(us, 0, UINT32_MAX)));
      return;
    }
    if (line == "{}")
      return pong();
    if (!is_ready_ && line.find("\"id\":2,\"subscribe\"") != std::string_view::npos)
      ready();
    if (line.find("\"publish\":{}") != std::string_view::npos)
      ++s_.replies;
    if (line.find("\"error\"") != std::string_view::npos)
      ++s_.errors;
  }

  void pong() {
    queue_.push_back("{}");
    if (!writing_)
      do_write();
  }

  void do_write() {
    if (queue_.empty())
      return;
    writing_ = true;
    // Everything queued goes in one message (the protocols allow '\n').
    out_.clear();
    for (auto& m : queue_) {
      if (!out_.empty())
        out_ += '\n';
      out_ += m;
    }
    queue_.clear();
    if (o_.protocol != "herald" && out_.find('\n') != std::string::npos) {
      // The yardstick relays one message per frame: send them one by one.
      auto nl = out_.find('\n');
      queue_.push_back(out_.substr(nl + 1));
      out_.resize(nl);
    }
    ws_.text(true);
    ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec)
        return self->fail("write", ec);
      self->do_write();
    });
  }

  void fail(const char* what, beast::error_code ec) {
    if (!failed_) {
      failed_ = true;
      ++s_.errors;
      if (s_.errors < 5)
        std::fprintf(stderr, "ws_load: %s: %s\n", what, ec.message().c_str());
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  tcp::resolver resolver_;
  const options& o_;
  stats& s_;
  std::string channel_;
  bool publisher_;
  std::vector<char> in_;
  size_t in_len_ = 0;
  std::deque<std::string> queue_;
  std::string out_;
  bool writing_ = false;
  bool is_ready_ = false;
  bool failed_ = false;
  uint64_t id_ = 0;
  std::function<void()> on_ready_;
};

void raise_fd_limit() {
  rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

/// Holds the connections until stdin closes (the caller measures memory
/// meanwhile).
void hold_until_stdin_closes(asio::io_context& ioc) {
  char buf[16];
  asio::posix::stream_descriptor in(ioc, ::dup(0));
  bool done = false;
  in.async_read_some(asio::buffer(buf), [&](beast::error_code, size_t) { done = true; });
  while (!done)
    ioc.run_for(std::chrono::milliseconds(100));
}

/// --join: every connection subscribes to one channel; a new one starts
/// each time one is subscribed, so at most o.in_flight handshakes are under
/// way at a time.
int run_join(asio::io_context& ioc, const options& o, stats& s) {
  std::vector<std::shared_ptr<conn>> all;
  all.reserve(o.join);
  const size_t sources = sources_needed(o, o.join);
  std::function<void()> start_next = [&] {
    if (all.size() == o.join)
      return;
    auto c = std::make_shared<conn>(ioc, o, s, o.channel_prefix, false);
    all.push_back(c);
    c->start(start_next, source_address(o, sources, all.size() - 1));
  };
  const auto start = clock_type::now();
  for (size_t i = 0; i < o.in_flight; ++i)
    start_next();
  auto deadline = start + std::chrono::seconds(60);
  while (s.ready < o.join && clock_type::now() < deadline)
    ioc.run_for(std::chrono::milliseconds(10));
  const double took = std::chrono::duration<double>(clock_type::now() - start).count();
  std::printf("join %zu subscribed %zu in %.2f s (in flight %zu) errors %llu\n", o.join, s.ready,
              took, o.in_flight, static_cast<unsigned long long>(s.errors));
  std::fflush(stdout);
  hold_until_stdin_closes(ioc);
  return s.ready == o.join ? 0 : 1;
}

/// CPU time this process used (user + system): the generator shares the
/// machine with the server it measures.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

double pct(std::vector<uint32_t>& v, double p) {
  if (v.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] / 1000.0;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--host")
      o.host = v;
    else if (f == "--port")
      o.port = static_cast<uint16_t>(std::stoi(v));
    else if (f == "--protocol")
      o.protocol = v;
    else if (f == "--prefix")
      o.channel_prefix = v;
    else if (f == "--connections")
      o.connections = std::stoul(v);
    else if (f == "--channels")
      o.channels = std::stoul(v);
    else if (f == "--publishers")
      o.publishers = std::stoul(v);
    else if (f == "--rate")
      o.rate = std::stod(v);
    else if (f == "--size")
      o.size = std::stoul(v);
    else if (f == "--seconds")
      o.seconds = std::stod(v);
    else if (f == "--drain")
      o.drain = std::stod(v);
    else if (f == "--idle")
      o.idle = std::stoul(v);
    else if (f == "--join")
      o.join = std::stoul(v);
    else if (f == "--in-flight")
      o.in_flight = std::max<size_t>(1, std::stoul(v));
    else if (f == "--sources")
      o.sources = std::stoul(v);
    else {
      std::fprintf(stderr, "ws_load: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (o.protocol == "raw")
    o.channels = 1; // refserver has no channels: everyone gets everything
  raise_fd_limit();
  asio::io_context ioc(1);
  stats s;
  std::vector<std::shared_ptr<conn>> subs, pubs;
  if (o.join > 0)
    return run_join(ioc, o, s);
  if (o.idle > 0) {
    const size_t sources = sources_needed(o, o.idle);
    for (size_t i = 0; i < o.idle; ++i) {
      auto c = std::make_shared<conn>(ioc, o, s, std::string(), false);
      subs.push_back(c);
      c->start(nullptr, source_address(o, sources, i));
      if (i % 200 == 199)
        ioc.run_for(std::chrono::milliseconds(20)); // let handshakes through
    }
    auto deadline = clock_type::now() + std::chrono::seconds(60);
    while (s.ready < o.idle && s.errors == 0 && clock_type::now() < deadline)
      ioc.run_for(std::chrono::milliseconds(50));
    std::printf("idle %zu ready %zu errors %llu\n", o.idle, s.ready,
                static_cast<unsigned long long>(s.errors));
    std::fflush(stdout);
    hold_until_stdin_closes(ioc);
    return s.ready == o.idle ? 0 : 1;
  }
  const size_t sources = sources_needed(o, o.connections + o.publishers);
  for (size_t i = 0; i < o.connections; ++i) {
    auto c =
      std::make_shared<conn>(ioc, o, s, o.channel_prefix + std::to_string(i % o.channels), false);
    subs.push_back(c);
    c->start(nullptr, source_address(o, sources, i));
    if (i % 200 == 199)
      ioc.run_for(std::chrono::milliseconds(20));
  }
  for (size_t i = 0; i < o.publishers; ++i) {
    auto c = std::make_shared<conn>(ioc, o, s, "", true);
    pubs.push_back(c);
    c->start(nullptr);
  }
  auto deadline = clock_type::now() + std::chrono::seconds(60);
  while (s.ready < o.connections + o.publishers && clock_type::now() < deadline)
    ioc.run_for(std::chrono::milliseconds(50));
  if (s.ready < o.connections + o.publishers) {
    std::fprintf(stderr, "ws_load: only %zu of %zu connections ready\n", s.ready,
                 o.connections + o.publishers);
    return 1;
  }
  s.delivered = 0;
  s.latencies_us.clear();
  s.latencies_us.reserve(static_cast<size_t>(o.rate * o.seconds * static_cast<double>(o.connections)
                                             / static_cast<double>(o.channels))
                         + 1024);
  // Publish on a schedule: message k is due at start + k / rate.
  const auto start = clock_type::now();
  const int64_t start_ns = now_ns();
  const auto total = static_cast<uint64_t>(o.rate * o.seconds);
  uint64_t sent = 0;
  asio::steady_timer timer(ioc);
  std::function<void()> tick = [&] {
    auto elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    // Message k is due at start + k / rate (so message 0 at once).
    auto due = std::min<uint64_t>(total, static_cast<uint64_t>(elapsed * o.rate) + 1);
    for (; sent < due; ++sent) {
      auto scheduled = start_ns + static_cast<int64_t>(static_cast<double>(sent) / o.rate * 1e9);
      pubs[sent % pubs.size()]->publish(o.channel_prefix + std::to_string(sent % o.channels),
                                        scheduled);
    }
    if (sent < total) {
      timer.expires_after(std::chrono::microseconds(500));
      timer.async_wait([&](beast::error_code) { tick(); });
    }
  };
  tick();
  ioc.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::duration<double>(o.seconds + o.drain)));
  const double subscribers_per_channel =
    static_cast<double>(o.connections) / static_cast<double>(o.channels);
  const double expected = static_cast<double>(total) * subscribers_per_channel;
  const double loss =
    expected > 0 ? std::max(0.0, 1.0 - static_cast<double>(s.delivered) / expected) : 0;
  std::printf("rate %.0f/s x %.0f subscribers = %.0f deliveries/s target: delivered %.0f/s, loss "
              "%.2f%%, p50 %.2f ms, p99 %.2f ms, max %.2f ms, errors %llu, client CPU %.2f s\n",
              o.rate, subscribers_per_channel, o.rate * subscribers_per_channel,
              static_cast<double>(s.delivered) / o.seconds, loss * 100, pct(s.latencies_us, 0.5),
              pct(s.latencies_us, 0.99), pct(s.latencies_us, 1.0),
              static_cast<unsigned long long>(s.errors), cpu_seconds());
  return 0;
}
