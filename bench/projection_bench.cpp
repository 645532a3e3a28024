// bench/projection: the chat demo's projection.
//  1. rebuild: a fresh projection replays N events from the journal
//     (events/s), next to a yardstick that runs the same handler SQL with
//     prepared statements straight from the journal in the same run;
//  2. apply: the projection's own busy time per applied event while it
//     keeps up with a writer;
//  3. latency from commit to read model: appends at a steady rate; for each,
//     the time from its acknowledgement to the projection having applied it
//     (p50 / p99 / max).
//
//   build/bench/projection [--events N] [--rate R] [--seconds S] [--dir DIR]
#include "actors/node.hpp"
#include "actors/system_config.hpp"
#include "config/loader.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/journal.hpp"
#include "storage/journal_reader.hpp"
#include "storage/msgpack_json.hpp"
#include "storage/sqlite.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

namespace {

using namespace herald;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct options {
  size_t events = 200000;
  double rate = 500;
  double seconds = 5;
  std::string dir = "/tmp/herald-bench-projection";
};

std::string chat_data(std::mt19937& rng, size_t i) {
  std::string mp, error;
  protocol::json_to_msgpack("{\"author\":\"user" + std::to_string(rng() % 50)
                              + "\",\"text\":\"message " + std::to_string(i)
                              + " with some text in it\"}",
                            mp, error);
  return mp;
}

void fill_journal(const options& o, const std::string& path) {
  storage::journal_options jo;
  jo.path = path;
  jo.durability = config::durability::normal;
  storage::journal j(jo);
  std::mt19937 rng(5);
  std::vector<storage::append_request> reqs;
  for (size_t i = 0; i < o.events; i += 1000) {
    reqs.clear();
    for (size_t k = 0; k < 1000 && i + k < o.events; ++k)
      reqs.push_back(
        {"chat:room" + std::to_string(rng() % 100),
         storage::expected_version::any(),
         {storage::new_event{rng() % 10 ? "message" : "typing", "", "", chat_data(rng, i + k)}}});
    j.append(reqs);
  }
}

config::settings chat(const std::string& dir) {
  auto s = config::load({});
  s.server.data_dir = dir;
  s.projections.snapshot_every_events = 0;
  s.projections.snapshot_every = config::duration(0);
  return s;
}

/// The yardstick: the chat handlers' SQL, prepared once, run per event in
/// transactions of 1000, reading the journal directly.
double yardstick(const options& o, const std::string& journal_path) {
  auto s = chat(o.dir);
  const auto& def = s.projection_defs.at(0);
  auto path = o.dir + "/yardstick.db";
  for (auto suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path + suffix);
  storage::database db(path, storage::database::mode::read_write_create);
  // The pragmas a projection uses while it builds a generation.
  db.exec("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA cache_size = -131072; "
          "PRAGMA temp_store = MEMORY");
  db.exec(def.schema);
  auto rooms = db.prepare_all(def.handlers[0].sql);
  auto messages = db.prepare_all(def.handlers[1].sql);
  storage::journal_reader reader(journal_path);
  auto start = clock_type::now();
  std::string json;
  for (uint64_t from = 1;;) {
    auto page = reader.read_all(from, 1000);
    if (page.empty())
      break;
    storage::transaction tx(db);
    for (const auto& e : page) {
      auto name = e.stream.substr(5);
      json.clear();
      storage::msgpack_to_json(e.data, json);
      auto& r = rooms[0];
      r.use()
        .bind(r.parameter_index(":name"), name)
        .bind(r.parameter_index(":type"), e.type)
        .bind(r.parameter_index(":position"), static_cast<int64_t>(e.position))
        .bind(r.parameter_index(":time"), e.time)
        .run();
      if (e.type == "message") {
        auto& m = messages[0];
        m.use()
          .bind(m.parameter_index(":name"), name)
          .bind(m.parameter_index(":version"), static_cast<int64_t>(e.version))
          .bind(m.parameter_index(":data"), json)
          .bind(m.parameter_index(":time"), e.time)
          .run();
      }
    }
    tx.commit();
    from = page.back().position + 1;
  }
  return static_cast<double>(o.events)
         / std::chrono::duration<double>(clock_type::now() - start).count();
}

void bench_rebuild(const options& o) {
  auto journal = o.dir + "/journal.db";
  fill_journal(o, journal);
  double raw = yardstick(o, journal);
  auto s = chat(o.dir);
  actors::system_config cfg(s);
  caf::actor_system sys(cfg);
  caf::scoped_actor self(sys);
  auto start = clock_type::now();
  auto node = actors::start_node(sys, s);
  self
    ->request(node.projections, 600s, actors::applied_atom_v, std::string("chat"),
              storage::journal_position{o.events})
    .receive([](storage::journal_position) {},
             [&](const caf::error& e) { std::printf("%s\n", sys.render(e).c_str()); });
  double fresh = static_cast<double>(o.events)
                 / std::chrono::duration<double>(clock_type::now() - start).count();
  // An explicit rebuild (new generation, swapped in) of the same events.
  start = clock_type::now();
  self->request(node.projections, 10s, actors::rebuild_atom_v, std::string("chat"))
    .receive([](const actors::projection_status&) {}, [](const caf::error&) {});
  for (;;) {
    bool done = false;
    self->request(node.projections, 10s, actors::status_atom_v, std::string("chat"))
      .receive([&](const actors::projection_status& st) { done = st.status != "rebuilding"; },
               [&](const caf::error&) { done = true; });
    if (done)
      break;
    std::this_thread::sleep_for(1ms);
  }
  double rebuild = static_cast<double>(o.events)
                   / std::chrono::duration<double>(clock_type::now() - start).count();
  actors::stop_node(node);
  std::printf("# chat projection, %zu events (90%% messages) over 100 rooms\n", o.events);
  std::printf("%-34s %12.0f events/s\n", "yardstick (same SQL, no actors)", raw);
  std::printf("%-34s %12.0f events/s  ratio %.2f\n", "fresh projection catching up", fresh,
              fresh / raw);
  std::printf("%-34s %12.0f events/s  ratio %.2f\n", "rebuild (new generation, swap)", rebuild,
              rebuild / raw);
}

void bench_latency(const options& o) {
  auto dir = o.dir + "/latency";
  std::filesystem::create_directories(dir);
  auto s = chat(dir);
  actors::system_config cfg(s);
  caf::actor_system sys(cfg);
  caf::scoped_actor self(sys);
  auto node = actors::start_node(sys, s);
  std::mt19937 rng(9);
  std::vector<double> latencies;
  auto interval = std::chrono::duration<double>(1.0 / o.rate);
  auto next = clock_type::now();
  auto end = next + std::chrono::duration<double>(o.seconds);
  size_t i = 0;
  while (next < end) {
    std::this_thread::sleep_until(next);
    next += std::chrono::duration_cast<clock_type::duration>(interval);
    storage::append_request req{"chat:room" + std::to_string(rng() % 10),
                                storage::expected_version::any(),
                                {storage::new_event{"message", "", "", chat_data(rng, i++)}}};
    uint64_t position = 0;
    self->request(node.journal, 10s, actors::append_atom_v, req)
      .receive([&](const storage::append_result& r) { position = r.last_position; },
               [](const caf::error&) {});
    auto acked = clock_type::now();
    self
      ->request(node.projections, 10s, actors::applied_atom_v, std::string("chat"),
                storage::journal_position{position})
      .receive([](storage::journal_position) {}, [](const caf::error&) {});
    latencies.push_back(
      std::chrono::duration<double, std::milli>(clock_type::now() - acked).count());
  }
  actors::actor_stats stats;
  self->request(node.projections, 10s, actors::stats_atom_v)
    .receive([&](const std::vector<actors::actor_stats>& all) { stats = all.at(0); },
             [](const caf::error&) {});
  actors::stop_node(node);
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) { return latencies[static_cast<size_t>(p * (latencies.size() - 1))]; };
  double apply_rate = static_cast<double>(stats.figures["applied"])
                      / (static_cast<double>(stats.figures["apply_ns"]) / 1e9);
  std::printf("\n# commit -> read model latency, %.0f appends/s for %.0fs (durability full)\n",
              o.rate, o.seconds);
  std::printf("p50 %.2f ms, p99 %.2f ms, max %.2f ms over %zu appends\n", pct(0.5), pct(0.99),
              latencies.back(), latencies.size());
  std::printf("live apply: %.0f events/s of projection busy time (%lld events)\n", apply_rate,
              static_cast<long long>(stats.figures["applied"]));
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--events")
      o.events = std::stoul(argv[i + 1]);
    else if (f == "--rate")
      o.rate = std::stod(argv[i + 1]);
    else if (f == "--seconds")
      o.seconds = std::stod(argv[i + 1]);
    else if (f == "--dir")
      o.dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  std::filesystem::remove_all(o.dir);
  std::filesystem::create_directories(o.dir);
  bench_rebuild(o);
  bench_latency(o);
  std::filesystem::remove_all(o.dir);
}
