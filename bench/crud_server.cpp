// bench/crud_server: the chat workload done the CRUD way, herald's yardstick
// in bench/crud_vs_es.sh (docs/crud-vs-event-sourcing.md). Each published
// message is one request that updates the current state in its own SQLite
// transaction (the room's counters and last message, one row in messages:
// the same tables the default config's chat projection builds), and only
// after the commit notifies the room's subscribers over WebSocket.
//
//   crud_server --db FILE [--listen-port 0] [--pool 16] [--mode cas|lock]
//   crud_server --self-test         starts a server, drives it, checks it
//
// It speaks the part of herald's client protocol the load generator uses
// (connect, subscribe, publish, the {} pong; pushes shaped like herald's),
// so bench/chat_load drives both servers alike. Storage is what herald's
// journal uses at its default durability: one SQLite file in WAL mode with
// synchronous = FULL (storage/journal.cpp), through the same wrapper.
//
// Requests run on a pool of --pool worker threads, each with its own SQLite
// connection, as a web backend with a connection pool would. --mode cas
// (default) is optimistic concurrency as an ORM does it: read the room row
// with its version, then write it back in a transaction only if the version
// is unchanged; on a conflict (or SQLITE_BUSY) read again and retry,
// counting both. --mode lock takes the write lock first and increments in
// place: no conflicts, CRUD's best case on one database file.
//
// On SIGINT/SIGTERM it drains the pool, checks the database (every room's
// counter equals its rows, sequence numbers 1..n without gaps, as many rows
// as commits acknowledged) and prints one JSON line with the counters; the
// exit status is 1 when the check fails.
#include "storage/errors.hpp"
#include "storage/sqlite.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using herald::storage::database;
using herald::storage::errc;
using herald::storage::failure;
using herald::storage::transaction;

enum class write_mode : uint8_t { cas, lock };

struct options {
  std::string db;
  uint16_t port = 0;
  size_t pool = 16;
  write_mode mode = write_mode::cas;
};

struct counters {
  std::atomic<uint64_t> committed{0};
  std::atomic<uint64_t> conflicts{0};    ///< version compare-and-set misses (cas)
  std::atomic<uint64_t> busy_retries{0}; ///< SQLITE_BUSY after the busy timeout
  std::atomic<uint64_t> failed{0};       ///< requests answered with an error
};

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// The schema: the default config's chat projection (rooms, messages) plus
/// what a CRUD row needs for optimistic concurrency (version) and a chat
/// list view (last_text).
constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS rooms (
  room      TEXT PRIMARY KEY,
  messages  INTEGER NOT NULL DEFAULT 0,
  last_text TEXT,
  last_time INTEGER NOT NULL DEFAULT 0,
  version   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
  room   TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  author TEXT,
  text   TEXT,
  time   INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_room ON messages (room, seq);
)sql";

void open_pragmas(database& db) {
  // herald's journal at durability "full": WAL, a sync at every commit.
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536");
}

/// One pooled connection and its prepared statements.
class store {
public:
  store(const std::string& path, write_mode mode, counters& c, std::mutex& write_lock)
    : db_(path, database::mode::read_write_create), mode_(mode), c_(c), write_lock_(write_lock),
      read_room_(db_.prepare("SELECT messages, version FROM rooms WHERE room = ?1")),
      create_room_(db_.prepare("INSERT INTO rooms (room) VALUES (?1) ON CONFLICT DO NOTHING")),
      update_cas_(db_.prepare("UPDATE rooms SET messages = ?2, last_text = ?3, last_time = ?4, "
                              "version = version + 1 WHERE room = ?1 AND version = ?5")),
      update_in_place_(db_.prepare("UPDATE rooms SET messages = messages + 1, last_text = ?2, "
                                   "last_time = ?3, version = version + 1 WHERE room = ?1")),
      read_count_(db_.prepare("SELECT messages FROM rooms WHERE room = ?1")),
      insert_message_(db_.prepare(
        "INSERT INTO messages (room, seq, author, text, time) VALUES (?1, ?2, ?3, ?4, ?5)")) {}

  /// Stores one message; returns its sequence number in the room.
  int64_t publish(const std::string& room, const std::string& author, const std::string& text) {
    for (;;) {
      try {
        auto seq = mode_ == write_mode::cas ? try_cas(room, author, text)
                                            : write_in_place(room, author, text);
        if (seq > 0) {
          ++c_.committed;
          return seq;
        }
        ++c_.conflicts;
      } catch (const failure& e) {
        if (e.code() != errc::busy)
          throw;
        ++c_.busy_retries;
      }
    }
  }

private:
  struct room_row {
    int64_t messages;
    int64_t version;
  };

  room_row read(const std::string& room) {
    for (;;) {
      {
        auto r = read_room_.use();
        r.bind(1, room);
        if (r.step())
          return {r.column_int(0), r.column_int(1)};
      }
      // A write like any other: under the write lock, or it would poll
      // SQLite's lock while a commit holds it.
      std::lock_guard<std::mutex> g(write_lock_);
      create_room_.use().bind(1, room).run();
    }
  }

  /// Read, then write back only if nobody wrote the row in between (0 when
  /// somebody did: the caller reads again). The read is outside the write
  /// transaction, as an ORM loads an entity before saving it.
  int64_t try_cas(const std::string& room, const std::string& author, const std::string& text) {
    const room_row seen = read(room);
    const int64_t seq = seen.messages + 1;
    const int64_t now = unix_ms();
    std::lock_guard<std::mutex> g(write_lock_);
    transaction t(db_, transaction::kind::immediate);
    update_cas_.use()
      .bind(1, room)
      .bind(2, seq)
      .bind(3, text)
      .bind(4, now)
      .bind(5, seen.version)
      .run();
    if (db_.changes() == 0)
      return 0; // the guard rolls back
    insert(room, seq, author, text, now);
    t.commit();
    return seq;
  }

  int64_t write_in_place(const std::string& room, const std::string& author,
                         const std::string& text) {
    read(room); // creates the row the first time
    const int64_t now = unix_ms();
    std::lock_guard<std::mutex> g(write_lock_);
    transaction t(db_, transaction::kind::immediate);
    update_in_place_.use().bind(1, room).bind(2, text).bind(3, now).run();
    int64_t seq = 0;
    {
      auto r = read_count_.use();
      r.bind(1, room);
      r.step();
      seq = r.column_int(0);
    }
    insert(room, seq, author, text, now);
    t.commit();
    return seq;
  }

  void insert(const std::string& room, int64_t seq, const std::string& author,
              const std::string& text, int64_t now) {
    insert_message_.use()
      .bind(1, room)
      .bind(2, seq)
      .bind(3, author)
      .bind(4, text)
      .bind(5, now)
      .run();
  }

  database db_;
  // Before any statement is prepared.
  bool pragmas_set_ = (open_pragmas(db_), true);
  write_mode mode_;
  counters& c_;
  // SQLite lets one connection write at a time and makes the others poll
  // (sleeps of 1, 2, 5... ms). Handing the lock over in the process is what
  // a server database's lock queue does: CRUD's best case, not its worst.
  std::mutex& write_lock_;
  herald::storage::statement read_room_, create_room_, update_cas_, update_in_place_, read_count_,
    insert_message_;
};

class session;

/// One publish waiting for a pool connection.
struct job {
  std::shared_ptr<session> from;
  int64_t id;
  std::string channel;
  std::string data; ///< the client's data, JSON text, pushed unchanged
  std::string author;
  std::string text;
};

class server {
public:
  server(asio::io_context& ioc, const options& o) : ioc_(ioc), acceptor_(ioc), o_(o) {
    database db(o.db, database::mode::read_write_create);
    open_pragmas(db);
    db.exec(schema);
  }

  uint16_t listen(uint16_t port) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    for (size_t i = 0; i < o_.pool; ++i)
      workers_.emplace_back([this] { work(); });
    accept();
    return acceptor_.local_endpoint().port();
  }

  void submit(job j) {
    {
      std::lock_guard<std::mutex> g(jobs_mutex_);
      jobs_.push_back(std::move(j));
    }
    jobs_cv_.notify_one();
  }

  // Subscriptions live on the network thread only.
  void subscribe(const std::string& channel, const std::shared_ptr<session>& s) {
    subscribers_[channel].insert(s.get());
  }
  void forget(session* s) {
    for (auto& [channel, set] : subscribers_)
      set.erase(s);
  }

  /// Stops accepting, finishes every queued request, stops the workers.
  void drain() {
    beast::error_code ec;
    acceptor_.close(ec);
    {
      std::lock_guard<std::mutex> g(jobs_mutex_);
      stopping_ = true;
    }
    jobs_cv_.notify_all();
    for (auto& t : workers_)
      t.join();
    workers_.clear();
  }

  /// Checks the database against the acknowledged commits; prints one JSON
  /// line; false when something does not add up.
  bool check_and_report() const {
    database db(o_.db, database::mode::read_write);
    const int64_t rows = db.query_int("SELECT count(*) FROM messages");
    const int64_t counted = db.query_int("SELECT coalesce(sum(messages), 0) FROM rooms");
    // Per room: sequence numbers 1..n, as many as the room's counter (the
    // unique index rules out duplicates).
    const int64_t bad_rooms = db.query_int(
      "SELECT count(*) FROM rooms r LEFT JOIN (SELECT room, count(*) n, min(seq) lo, max(seq) hi "
      "FROM messages GROUP BY room) m USING (room) "
      "WHERE r.messages != coalesce(m.n, 0) OR (m.n > 0 AND (m.lo != 1 OR m.hi != m.n))");
    const auto committed = static_cast<int64_t>(c_.committed.load());
    const bool ok = rows == committed && counted == committed && bad_rooms == 0 && c_.failed == 0;
    std::printf("{\"committed\":%lld,\"stored\":%lld,\"counted\":%lld,\"bad_rooms\":%lld,"
                "\"conflicts\":%llu,\"busy_retries\":%llu,\"failed\":%llu,\"check\":\"%s\"}\n",
                static_cast<long long>(committed), static_cast<long long>(rows),
                static_cast<long long>(counted), static_cast<long long>(bad_rooms),
                static_cast<unsigned long long>(c_.conflicts.load()),
                static_cast<unsigned long long>(c_.busy_retries.load()),
                static_cast<unsigned long long>(c_.failed.load()), ok ? "ok" : "FAILED");
    std::fflush(stdout);
    return ok;
  }

  asio::io_context& context() {
    return ioc_;
  }

private:
  void accept();
  void work();
  void finish(const job& j, int64_t seq, const std::string& error);

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  const options& o_;
  counters c_;
  std::mutex write_lock_;
  std::mutex jobs_mutex_;
  std::condition_variable jobs_cv_;
  std::deque<job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::map<std::string, std::set<session*>> subscribers_;
};

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket s, server& srv) : ws_(std::move(s)), srv_(srv) {}

  void start() {
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
    ws_.async_accept([self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->read();
    });
  }

  /// Queues one text message (network thread only).
  void send(std::string m) {
    queue_.push_back(std::move(m));
    if (!writing_)
      write();
  }

private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec)
        return self->srv_.forget(self.get());
      std::string msg = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      self->handle(msg);
      self->read();
    });
  }

  void handle(const std::string& msg) {
    size_t at = 0;
    while (at <= msg.size()) {
      size_t nl = msg.find('\n', at);
      if (nl == std::string::npos)
        nl = msg.size();
      command(msg.substr(at, nl - at));
      at = nl + 1;
    }
  }

  void command(const std::string& line) {
    rapidjson::Document d;
    if (line.empty() || line == "{}" || d.Parse(line.c_str()).HasParseError() || !d.IsObject())
      return;
    const int64_t id = d.HasMember("id") && d["id"].IsInt64() ? d["id"].GetInt64() : 0;
    const std::string reply_head = "{\"id\":" + std::to_string(id) + ",";
    if (d.HasMember("connect"))
      return send(reply_head + "\"connect\":{\"client\":\"crud\",\"version\":\"crud\"}}");
    auto channel_of = [](const rapidjson::Value& v) {
      return v.IsObject() && v.HasMember("channel") && v["channel"].IsString()
               ? std::string(v["channel"].GetString())
               : std::string();
    };
    if (d.HasMember("subscribe")) {
      srv_.subscribe(channel_of(d["subscribe"]), shared_from_this());
      return send(reply_head + "\"subscribe\":{}}");
    }
    if (d.HasMember("publish")) {
      const auto& p = d["publish"];
      std::string channel = channel_of(p);
      if (channel.empty() || !p.HasMember("data") || !p["data"].IsObject())
        return send(reply_head + "\"error\":{\"code\":107,\"message\":\"bad request\"}}");
      const auto& data = p["data"];
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      data.Accept(w);
      auto text_of = [&](const char* key) {
        return data.HasMember(key) && data[key].IsString() ? std::string(data[key].GetString())
                                                           : std::string();
      };
      srv_.submit(
        {shared_from_this(), id, channel, sb.GetString(), text_of("author"), text_of("text")});
      return;
    }
    send(reply_head + "\"error\":{\"code\":104,\"message\":\"unknown method\"}}");
  }

  void write() {
    writing_ = true;
    out_.clear();
    for (auto& m : queue_) {
      if (!out_.empty())
        out_ += '\n';
      out_ += m;
    }
    queue_.clear();
    ws_.text(true);
    ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (!ec && !self->queue_.empty())
        self->write();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  server& srv_;
  beast::flat_buffer in_;
  std::deque<std::string> queue_;
  std::string out_;
  bool writing_ = false;
};

void server::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket s) {
    if (ec)
      return; // closed by drain()
    std::make_shared<session>(std::move(s), *this)->start();
    accept();
  });
}

void server::work() {
  store st(o_.db, o_.mode, c_, write_lock_);
  for (;;) {
    job j;
    {
      std::unique_lock<std::mutex> g(jobs_mutex_);
      jobs_cv_.wait(g, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty())
        return;
      j = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // The channel is chat:<room>; the room is the whole channel name here.
    int64_t seq = 0;
    std::string error;
    try {
      seq = st.publish(j.channel, j.author, j.text);
    } catch (const std::exception& e) {
      ++c_.failed;
      error = e.what();
    }
    asio::post(ioc_, [this, j = std::move(j), seq, error] { finish(j, seq, error); });
  }
}

/// After the commit (network thread): the reply, then the pushes. Two
/// commits of one room may reach this in either order, as in any backend
/// that notifies after its transaction; bench/chat_load counts that.
void server::finish(const job& j, int64_t seq, const std::string& error) {
  const std::string reply_head = "{\"id\":" + std::to_string(j.id) + ",";
  if (!error.empty()) {
    j.from->send(reply_head + "\"error\":{\"code\":100,\"message\":\"internal server error\"}}");
    return;
  }
  j.from->send(reply_head + "\"publish\":{}}");
  auto it = subscribers_.find(j.channel);
  if (it == subscribers_.end())
    return;
  const std::string push = "{\"push\":{\"channel\":\"" + j.channel + "\",\"pub\":{\"data\":"
                           + j.data + ",\"offset\":" + std::to_string(seq) + "}}}";
  for (session* s : it->second)
    s->send(push);
}

// ---- --self-test: a small synchronous client against an in-process server.

/// Shuts the test's client sockets down when the test takes longer than
/// `limit`, so that a lost message fails the test instead of hanging it
/// (Asio's blocking reads poll again on SO_RCVTIMEO's timeout).
class watchdog {
public:
  explicit watchdog(std::chrono::seconds limit)
    : thread_([this, limit] {
        std::unique_lock<std::mutex> g(m_);
        if (!cv_.wait_for(g, limit, [&] { return done_; }))
          for (int fd : fds_)
            ::shutdown(fd, SHUT_RDWR);
      }) {}
  ~watchdog() {
    {
      std::lock_guard<std::mutex> g(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  /// The socket must stay open until the watchdog is gone.
  void watch(int fd) {
    std::lock_guard<std::mutex> g(m_);
    fds_.push_back(fd);
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<int> fds_;
  std::thread thread_; // last: starts once the rest exists
};

/// A blocking client connection, connected.
class test_client {
public:
  test_client(asio::io_context& ioc, uint16_t port) : ws_(ioc) {
    ws_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1", "/connection/websocket");
    call("{\"connect\":{},\"id\":1}", "\"connect\"");
  }

  /// Sends a command and reads until a line containing `expect` arrives.
  void call(const std::string& cmd, const std::string& expect) {
    ws_.write(asio::buffer(cmd));
    while (read_line().find(expect) == std::string::npos) {
    }
  }

  int fd() {
    return ws_.next_layer().native_handle();
  }

  /// The next line from the server (throws when the watchdog fires).
  std::string read_line() {
    while (lines_.empty()) {
      beast::flat_buffer b;
      ws_.read(b);
      std::string m = beast::buffers_to_string(b.data());
      size_t at = 0;
      for (size_t nl; (nl = m.find('\n', at)) != std::string::npos; at = nl + 1)
        lines_.push_back(m.substr(at, nl - at));
      lines_.push_back(m.substr(at));
    }
    std::string l = lines_.front();
    lines_.pop_front();
    return l;
  }

private:
  websocket::stream<tcp::socket> ws_;
  std::deque<std::string> lines_;
};

/// 4 writers x 25 messages into one room, one subscriber: every publish is
/// acknowledged, the subscriber gets offsets 1..100 once each, the database
/// check passes.
bool self_test(write_mode mode) {
  const auto dir = std::filesystem::temp_directory_path()
                   / ("crud_server_self_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  options o;
  o.db = (dir / "crud.db").string();
  o.pool = 4;
  o.mode = mode;
  asio::io_context ioc;
  server srv(ioc, o);
  const uint16_t port = srv.listen(0);
  auto guard = asio::make_work_guard(ioc);
  std::thread net([&] { ioc.run(); });
  constexpr int writers = 4, per_writer = 25, total = writers * per_writer;
  bool ok = true;
  try {
    asio::io_context cio;
    test_client sub(cio, port);
    std::vector<std::unique_ptr<test_client>> clients;
    for (int w = 0; w < writers; ++w)
      clients.push_back(std::make_unique<test_client>(cio, port));
    watchdog dog(std::chrono::seconds(20));
    dog.watch(sub.fd());
    for (auto& c : clients)
      dog.watch(c->fd());
    sub.call("{\"subscribe\":{\"channel\":\"chat:t\"},\"id\":2}", "\"subscribe\"");
    std::vector<std::thread> ws;
    std::atomic<int> acked{0};
    for (int w = 0; w < writers; ++w)
      ws.emplace_back([&, w] {
        auto& c = *clients[static_cast<size_t>(w)];
        for (int k = 0; k < per_writer; ++k)
          try {
            c.call("{\"publish\":{\"channel\":\"chat:t\",\"data\":{\"author\":\"w"
                     + std::to_string(w) + "\",\"text\":\"m" + std::to_string(k)
                     + "\"}},\"id\":" + std::to_string(k + 10) + "}",
                   "\"publish\":{}");
            ++acked;
          } catch (const std::exception&) {
            return; // counted as not acknowledged
          }
      });
    for (auto& t : ws)
      t.join();
    std::set<int64_t> offsets;
    for (int i = 0; i < total; ++i) {
      auto line = sub.read_line();
      auto at = line.find("\"offset\":");
      if (line.find("\"push\"") == std::string::npos || at == std::string::npos)
        continue;
      offsets.insert(std::stoll(line.substr(at + 9)));
    }
    ok = acked == total && offsets.size() == total && *offsets.begin() == 1
         && *offsets.rbegin() == total;
    if (!ok)
      std::fprintf(stderr, "self-test: %d acked, %zu distinct offsets delivered, %d expected\n",
                   acked.load(), offsets.size(), total);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "self-test: %s\n", e.what());
    ok = false;
  }
  guard.reset();
  ioc.stop();
  net.join();
  srv.drain();
  ok = srv.check_and_report() && ok;
  std::filesystem::remove_all(dir);
  return ok;
}

int serve(const options& o) {
  asio::io_context ioc(1);
  server srv(ioc, o);
  const uint16_t port = srv.listen(o.port);
  std::printf("listening on http://127.0.0.1:%u\n", port);
  std::fflush(stdout);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
  ioc.run();
  srv.drain();
  return srv.check_and_report() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (f == "--self-test") {
      bool ok = self_test(write_mode::cas) && self_test(write_mode::lock);
      std::printf("crud_server self-test: %s\n", ok ? "ok" : "FAILED");
      return ok ? 0 : 1;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "crud_server: %s needs a value\n", argv[i]);
      return 2;
    }
    std::string v = argv[++i];
    if (f == "--db")
      o.db = v;
    else if (f == "--listen-port")
      o.port = static_cast<uint16_t>(std::stoi(v));
    else if (f == "--pool")
      o.pool = std::max<size_t>(1, std::stoul(v));
    else if (f == "--mode" && (v == "cas" || v == "lock"))
      o.mode = v == "cas" ? write_mode::cas : write_mode::lock;
    else {
      std::fprintf(stderr, "crud_server: bad flag %s %s\n", f.c_str(), v.c_str());
      return 2;
    }
  }
  if (o.db.empty()) {
    std::fprintf(stderr, "crud_server: --db FILE is required\n");
    return 2;
  }
  return serve(o);
}
