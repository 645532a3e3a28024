// bench/processor: batch enrichment, the point of stream processors. The
// default config's `mentions` statement (a join of the batch with the users
// read model) run once per batch of chat messages, against the same
// statement run once per event (the message-by-message way), at batch sizes
// 1, 10, 100 and 1,000, in the same run:
//  1. the statement alone (events/s);
//  2. the statement and the commit of its output: the derived events and the
//     processor's checkpoint in one journal transaction (durability full),
//     once per batch or once per event.
// The users read model holds 10,000 display names; each message mentions 2.
//
//   build/bench/processor [--events N] [--commit-events N] [--dir DIR]
#include "config/loader.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/journal.hpp"
#include "storage/processor_sql.hpp"
#include "storage/read_model.hpp"
#include "storage/sqlite.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace herald;
using clock_type = std::chrono::steady_clock;

struct options {
  size_t events = 20000;       ///< per measurement of the statement alone
  size_t commit_events = 2000; ///< per measurement with the journal commit
  std::string dir = "/tmp/herald-bench-processor";
};

constexpr size_t user_count = 10000;

template <class Defs>
const auto& named(const Defs& defs, const std::string& name) {
  for (const auto& d : defs)
    if (d.name == name)
      return d;
  throw std::runtime_error("the default config has no " + name);
}

/// The users read model as the projection would leave it.
void fill_users(const config::projection_def& def, const std::string& path) {
  { storage::read_model create(path, def); }
  storage::database db(path, storage::database::mode::read_write);
  storage::transaction tx(db);
  auto insert = db.prepare("INSERT INTO users (user, display_name, last_position) "
                           "VALUES (?1, ?2, ?3)");
  for (size_t i = 0; i < user_count; ++i) {
    const auto user = "user" + std::to_string(i);
    const auto name = "User Number " + std::to_string(i);
    insert.use().bind(1, user).bind(2, name).bind(3, static_cast<int64_t>(i + 1)).run();
  }
  tx.commit();
}

std::vector<storage::recorded_event> chat_messages(size_t n) {
  std::mt19937 rng(7);
  std::vector<storage::recorded_event> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto user = [&] { return "user" + std::to_string(rng() % user_count); };
    std::string json = "{\"type\":\"message\",\"author\":\"" + user() + "\",\"text\":\"message "
                       + std::to_string(i) + " with some text in it\",\"mentions\":[\"" + user()
                       + "\",\"" + user() + "\"]}";
    std::string data, error;
    protocol::json_to_msgpack(json, data, error);
    storage::recorded_event e;
    e.position = i + 1;
    e.stream = "chat:room-" + std::to_string(i % 100);
    e.version = i / 100 + 1;
    e.type = "message";
    e.id = "id-" + std::to_string(i);
    e.time = 1700000000000 + static_cast<int64_t>(i);
    e.meta = "\x80"; // an empty msgpack map
    e.data = std::move(data);
    out.push_back(std::move(e));
  }
  return out;
}

/// Runs `handle` over `events` in slices of `size`; events per second.
template <class Handle>
double rate(const std::vector<storage::recorded_event>& events, size_t size, Handle handle) {
  std::vector<storage::recorded_event> slice;
  auto start = clock_type::now();
  for (size_t at = 0; at < events.size(); at += size) {
    slice.assign(events.begin() + static_cast<std::ptrdiff_t>(at),
                 events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), at + size)));
    handle(slice);
  }
  return static_cast<double>(events.size())
         / std::chrono::duration<double>(clock_type::now() - start).count();
}

/// The derived events of `rows` as one processor commit after `from`.
storage::processor_commit commit_of(const std::vector<storage::derived_row>& rows,
                                    const std::vector<storage::recorded_event>& batch,
                                    uint64_t from) {
  storage::processor_commit c{"mentions", from, batch.back().position, {}};
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string data, error;
    protocol::json_to_msgpack(rows[i].data, data, error);
    const auto& source =
      batch[static_cast<size_t>(*rows[i].source_position - batch.front().position)];
    c.appends.push_back(
      {rows[i].channel,
       storage::expected_version::any(),
       {storage::new_event{rows[i].type, storage::derived_event_id("mentions", source.position, i),
                           storage::derived_meta("mentions", &source), std::move(data)}}});
  }
  return c;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--events")
      o.events = std::stoul(argv[i + 1]);
    else if (f == "--commit-events")
      o.commit_events = std::stoul(argv[i + 1]);
    else if (f == "--dir")
      o.dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::filesystem::remove_all(o.dir);
  std::filesystem::create_directories(o.dir);
  auto settings = config::parse_toml(config::embedded_default(), "(embedded default)");
  const auto& def = named(settings.processor_defs, "mentions");
  const auto users_path = o.dir + "/users.db";
  fill_users(named(settings.projection_defs, "users"), users_path);
  storage::processor_statement statement(def);
  statement.attach("users", users_path);
  const auto timeout = std::chrono::milliseconds(10000);
  auto run = [&](const std::vector<storage::recorded_event>& batch) {
    return statement.run(batch, 1000000, timeout);
  };
  auto events = chat_messages(o.events);

  std::printf("# stream processor batch enrichment: the mentions statement (a join with a\n"
              "# users read model of %zu names; 2 mentions per message) once per batch vs once\n"
              "# per event, same run\n",
              user_count);
  std::printf("%-8s %18s %18s %8s\n", "batch", "per batch ev/s", "per event ev/s", "ratio");
  size_t rows_seen = 0;
  for (size_t size : {size_t{1}, size_t{10}, size_t{100}, size_t{1000}}) {
    double batched = rate(events, size, [&](const auto& b) { rows_seen += run(b).size(); });
    double single = rate(events, size, [&](const auto& b) {
      for (const auto& e : b)
        rows_seen += run({e}).size();
    });
    std::printf("%-8zu %18.0f %18.0f %8.1f\n", size, batched, single, batched / single);
    std::fflush(stdout);
  }
  if (rows_seen != 2 * 2 * 4 * o.events) {
    std::fprintf(stderr, "expected %zu derived rows, got %zu\n", 2 * 2 * 4 * o.events, rows_seen);
    return 1;
  }

  std::printf("\n# with the commit of the derived events and the checkpoint (durability full)\n");
  std::printf("%-8s %18s %18s %8s\n", "batch", "per batch ev/s", "per event ev/s", "ratio");
  auto few = chat_messages(o.commit_events);
  for (size_t size : {size_t{1}, size_t{10}, size_t{100}, size_t{1000}}) {
    double figures[2];
    for (int per_event = 0; per_event < 2; ++per_event) {
      auto path =
        o.dir + "/journal-" + std::to_string(size) + "-" + std::to_string(per_event) + ".db";
      storage::journal_options jo;
      jo.path = path;
      storage::journal journal(jo);
      uint64_t checkpoint = 0;
      auto commit = [&](const std::vector<storage::recorded_event>& b) {
        auto c = commit_of(run(b), b, checkpoint);
        auto r = journal.commit_processor(c);
        if (r.status != storage::processor_commit_status::ok)
          throw std::runtime_error("the commit failed: " + r.message);
        checkpoint = c.to;
      };
      figures[per_event] = rate(few, size, [&](const auto& b) {
        if (per_event == 0)
          return commit(b);
        for (const auto& e : b)
          commit({e});
      });
    }
    std::printf("%-8zu %18.0f %18.0f %8.1f\n", size, figures[0], figures[1],
                figures[0] / figures[1]);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(o.dir);
}
