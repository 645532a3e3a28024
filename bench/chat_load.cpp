// bench/chat_load: a closed-loop chat load for bench/crud_vs_es.sh. W writer
// connections each publish a message, wait for the server's acknowledgement
// (herald: durable in the journal; crud_server: committed), and publish the
// next, for --seconds; one subscriber per room receives them. Rooms are
// <prefix>0 .. <prefix>R-1; writer w's k-th message goes to room (w + k) % R.
//
//   chat_load --port P [--writers 10] [--rooms 1] [--seconds 5] [--size 100]
//             [--prefix chat:r] [--drain 10] [--warmup 1]
//
// Prints one JSON line: acknowledged messages/s, send -> subscriber receipt
// latency p50/p99/max (the send time is in the payload, one clock), and
// what was lost: every acknowledged message must reach its room's
// subscriber exactly once, or the exit status is 1. It also counts
// deliveries whose offset is lower than one the subscriber already got
// (a notification overtaken by a later one).
//
// ws_load (fixed rate, open loop) measures fan-out; this measures how many
// acknowledged writes concurrent clients get through, as a backend's users
// see it, with the same protocol (connect, subscribe, publish; one command
// per WebSocket message).
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct options {
  uint16_t port = 8000;
  size_t writers = 10;
  size_t rooms = 1;
  double seconds = 5;
  size_t size = 100;
  std::string prefix = "chat:r";
  double drain = 10;
  double warmup = 1;
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
    .count();
}

struct stats {
  size_t ready = 0;
  bool sending = false;   ///< from the start of the warm-up to the end of the run
  bool measuring = false; ///< after the warm-up
  int64_t window_start_ns = 0;
  uint64_t acked = 0;
  uint64_t acked_in_window = 0;
  uint64_t errors = 0;
  uint64_t deliveries = 0;
  uint64_t out_of_order = 0;
  std::vector<uint32_t> latencies_us;
  /// sent[w]: messages writer w sent; seen[w][k]: deliveries of its k-th.
  std::vector<uint64_t> sent;
  std::vector<std::vector<uint8_t>> seen;
  std::vector<std::vector<bool>> acks;
};

/// The integer after `"key":` in a line, or -1.
int64_t field(std::string_view line, std::string_view key) {
  auto at = line.find(key);
  if (at == std::string_view::npos)
    return -1;
  return std::strtoll(line.data() + at + key.size(), nullptr, 10);
}

class conn : public std::enable_shared_from_this<conn> {
public:
  /// writer >= 0: that writer; otherwise a subscriber of `room`.
  conn(asio::io_context& ioc, const options& o, stats& s, long writer, size_t room)
    : ws_(ioc), o_(o), s_(s), writer_(writer), room_(room),
      pad_(o.size > 60 ? o.size - 60 : 1, 'x') {}

  void start() {
    beast::get_lowest_layer(ws_).async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), o_.port),
      [self = shared_from_this()](beast::error_code ec) {
        if (ec)
          return self->fail("connect", ec);
        beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true), ec);
        self->ws_.async_handshake("127.0.0.1", "/connection/websocket",
                                  [self](beast::error_code ec) {
                                    if (ec)
                                      return self->fail("handshake", ec);
                                    self->send("{\"connect\":{\"name\":\"chat_load\"},\"id\":1}");
                                    self->read();
                                  });
      });
  }

  /// Sends the next message (writers), unless the run is over.
  void publish_next() {
    if (!s_.sending)
      return;
    const auto w = static_cast<size_t>(writer_);
    const uint64_t k = s_.sent[w]++;
    s_.seen[w].push_back(0);
    s_.acks[w].push_back(false);
    in_flight_ = k;
    const size_t room = (w + k) % o_.rooms;
    send("{\"publish\":{\"channel\":\"" + o_.prefix + std::to_string(room)
         + "\",\"data\":{\"type\":\"message\",\"author\":\"w" + std::to_string(w) + "\",\"text\":\""
         + pad_ + "\",\"ts\":" + std::to_string(now_ns()) + ",\"w\":" + std::to_string(w)
         + ",\"k\":" + std::to_string(k) + "}},\"id\":" + std::to_string(k + 10) + "}");
  }

  bool idle() const {
    return !in_flight_.has_value();
  }

private:
  void send(std::string m) {
    queue_.push_back(std::move(m));
    if (!writing_)
      write();
  }

  void write() {
    writing_ = true;
    out_ = std::move(queue_.front());
    queue_.pop_front();
    ws_.text(true);
    ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec)
        return self->fail("write", ec);
      if (!self->queue_.empty())
        self->write();
    });
  }

  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec)
        return self->fail("read", ec);
      const int64_t now = now_ns();
      std::string msg = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      std::string_view rest(msg);
      while (!rest.empty()) {
        auto nl = rest.find('\n');
        self->on_line(rest.substr(0, nl), now);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      }
      self->read();
    });
  }

  void on_line(std::string_view line, int64_t now) {
    if (line == "{}")
      return send("{}"); // herald's ping
    if (line.substr(0, 8) == "{\"push\":")
      return on_push(line, now);
    if (line.find("\"error\"") != std::string_view::npos) {
      if (++s_.errors < 5)
        std::fprintf(stderr, "chat_load: %.*s\n", static_cast<int>(line.size()), line.data());
      return;
    }
    if (line.find("\"connect\"") != std::string_view::npos) {
      if (writer_ >= 0)
        return ready();
      return send("{\"subscribe\":{\"channel\":\"" + o_.prefix + std::to_string(room_)
                  + "\"},\"id\":2}");
    }
    if (line.find("\"subscribe\"") != std::string_view::npos)
      return ready();
    if (line.find("\"publish\":{}") != std::string_view::npos && in_flight_) {
      s_.acks[static_cast<size_t>(writer_)][*in_flight_] = true;
      in_flight_.reset();
      ++s_.acked;
      if (s_.measuring)
        ++s_.acked_in_window;
      publish_next();
    }
  }

  void on_push(std::string_view line, int64_t now) {
    const int64_t ts = field(line, "\"ts\":");
    const int64_t w = field(line, "\"w\":");
    const int64_t k = field(line, "\"k\":");
    if (ts < 0 || w < 0 || k < 0)
      return; // a join or leave push
    const int64_t offset = field(line, "\"offset\":");
    if (offset < last_offset_)
      ++s_.out_of_order;
    last_offset_ = std::max(last_offset_, offset);
    ++s_.deliveries;
    auto& seen = s_.seen.at(static_cast<size_t>(w));
    ++seen.at(static_cast<size_t>(k));
    if (s_.window_start_ns == 0 || ts < s_.window_start_ns)
      return; // sent during the warm-up
    s_.latencies_us.push_back(
      static_cast<uint32_t>(std::clamp<int64_t>((now - ts) / 1000, 0, UINT32_MAX)));
  }

  void ready() {
    if (!is_ready_) {
      is_ready_ = true;
      ++s_.ready;
    }
  }

  void fail(const char* what, beast::error_code ec) {
    if (!failed_) {
      failed_ = true;
      if (++s_.errors < 5)
        std::fprintf(stderr, "chat_load: %s: %s\n", what, ec.message().c_str());
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  const options& o_;
  stats& s_;
  long writer_;
  size_t room_;
  std::string pad_;
  beast::flat_buffer in_;
  std::deque<std::string> queue_;
  std::string out_;
  bool writing_ = false;
  bool is_ready_ = false;
  bool failed_ = false;
  std::optional<uint64_t> in_flight_;
  int64_t last_offset_ = 0;
};

double pct(std::vector<uint32_t>& v, double p) {
  if (v.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] / 1000.0;
}

/// Runs the io context until `done` or the deadline; false on the deadline.
template <class Pred>
bool run_until(asio::io_context& ioc, Pred done, double seconds) {
  const auto deadline = clock_type::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (clock_type::now() >= deadline)
      return false;
    ioc.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--port")
      o.port = static_cast<uint16_t>(std::stoi(v));
    else if (f == "--writers")
      o.writers = std::max<size_t>(1, std::stoul(v));
    else if (f == "--rooms")
      o.rooms = std::max<size_t>(1, std::stoul(v));
    else if (f == "--seconds")
      o.seconds = std::stod(v);
    else if (f == "--size")
      o.size = std::stoul(v);
    else if (f == "--prefix")
      o.prefix = v;
    else if (f == "--drain")
      o.drain = std::stod(v);
    else if (f == "--warmup")
      o.warmup = std::stod(v);
    else {
      std::fprintf(stderr, "chat_load: unknown flag %s\n", argv[i]);
      std::exit(2);
    }
  }
  return o;
}

} // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  asio::io_context ioc(1);
  stats s;
  s.sent.assign(o.writers, 0);
  s.seen.resize(o.writers);
  s.acks.resize(o.writers);
  std::vector<std::shared_ptr<conn>> subs, writers;
  for (size_t r = 0; r < o.rooms; ++r)
    subs.push_back(std::make_shared<conn>(ioc, o, s, -1, r));
  for (size_t w = 0; w < o.writers; ++w)
    writers.push_back(std::make_shared<conn>(ioc, o, s, static_cast<long>(w), 0));
  for (auto& c : subs)
    c->start();
  for (auto& c : writers)
    c->start();
  const size_t all = o.rooms + o.writers;
  if (!run_until(
        ioc, [&] { return s.ready == all || s.errors > 0; }, 30)
      || s.errors > 0) {
    std::fprintf(stderr, "chat_load: only %zu of %zu connections ready\n", s.ready, all);
    return 1;
  }
  s.sending = true;
  for (auto& w : writers)
    w->publish_next();
  // Not measured: the first seconds of a fresh server (rooms created, files
  // growing), but checked for loss like the rest.
  ioc.run_for(
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(o.warmup)));
  s.measuring = true;
  s.window_start_ns = now_ns();
  const auto start = clock_type::now();
  ioc.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::duration<double>(o.seconds)));
  s.sending = false;
  s.measuring = false;
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  // Every publish still in flight is answered, and every acknowledged
  // message delivered, within the drain time.
  const bool answered = run_until(
    ioc,
    [&] {
      return std::all_of(writers.begin(), writers.end(), [](auto& w) { return w->idle(); })
             && s.deliveries >= s.acked;
    },
    o.drain);
  uint64_t sent = 0, lost = 0, duplicates = 0, unacked = 0;
  for (size_t w = 0; w < o.writers; ++w) {
    sent += s.sent[w];
    for (size_t k = 0; k < s.sent[w]; ++k) {
      const uint8_t n = s.seen[w][k];
      unacked += !s.acks[w][k];
      lost += s.acks[w][k] && n == 0;
      duplicates += n > 1 ? n - 1 : 0;
    }
  }
  const double rate = static_cast<double>(s.acked_in_window) / elapsed;
  std::printf("{\"writers\":%zu,\"rooms\":%zu,\"seconds\":%.2f,\"sent\":%llu,\"acked\":%llu,"
              "\"delivered\":%llu,\"lost\":%llu,\"duplicates\":%llu,\"unacked\":%llu,"
              "\"out_of_order\":%llu,\"errors\":%llu,\"throughput\":%.1f,\"p50_ms\":%.2f,"
              "\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
              o.writers, o.rooms, elapsed, static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(s.acked),
              static_cast<unsigned long long>(s.deliveries), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(unacked),
              static_cast<unsigned long long>(s.out_of_order),
              static_cast<unsigned long long>(s.errors), rate, pct(s.latencies_us, 0.5),
              pct(s.latencies_us, 0.99), pct(s.latencies_us, 1.0));
  const bool ok = answered && lost == 0 && duplicates == 0 && unacked == 0 && s.errors == 0;
  if (!ok)
    std::fprintf(stderr,
                 "chat_load: FAILED: %llu lost, %llu duplicated, %llu unacknowledged, "
                 "%llu errors%s\n",
                 static_cast<unsigned long long>(lost), static_cast<unsigned long long>(duplicates),
                 static_cast<unsigned long long>(unacked),
                 static_cast<unsigned long long>(s.errors), answered ? "" : " (drain timed out)");
  return ok ? 0 : 1;
}
