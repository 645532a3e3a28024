// bench/group_commit: appends per second through the journal actor with 1,
// 10, 100 and 1,000 concurrent appenders (each waits for its acknowledgement before
// sending the next, as a client does), durability full, against the raw
// journal's batch figures (storage::journal::append with batches of 1, 10,
// 100 and 1,000 single-event appends) measured in the same run, once per
// journal.commit_wait_us value given (default: 0, the old start-at-once,
// and 200, the default).
//
//   build/bench/group_commit [--seconds S] [--reps R] [--dir DIR] [--commit-wait-us 0,200]
#include "actors/journal_actor.hpp"
#include "actors/system_config.hpp"
#include "storage/journal.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace herald;

/// Appenders that have not quit yet: the journal stops only after the last
/// one, so that none waits for an answer the stopped journal never gives.
std::atomic<size_t> running_appenders{0};
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct options {
  double seconds = 2;
  int reps = 3;
  std::string dir = "/tmp/herald-bench-group-commit";
  std::vector<int64_t> waits{0, 200};
};

void fresh(const std::string& path) {
  for (auto suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path + suffix);
}

storage::append_request one_event(size_t stream) {
  return {"stream-" + std::to_string(stream % 100),
          storage::expected_version::any(),
          {storage::new_event{"message", "", "", std::string(100, 'x')}}};
}

double raw_rate(const options& o, size_t batch) {
  auto path = o.dir + "/raw.db";
  fresh(path);
  storage::journal_options jo;
  jo.path = path;
  storage::journal j(jo);
  size_t events = 0;
  std::chrono::duration<double> busy{0};
  std::vector<storage::append_request> reqs;
  auto end = clock_type::now() + std::chrono::duration<double>(o.seconds);
  while (clock_type::now() < end) {
    reqs.clear();
    for (size_t i = 0; i < batch; ++i)
      reqs.push_back(one_event(events + i));
    auto t0 = clock_type::now();
    j.append(reqs);
    busy += clock_type::now() - t0;
    events += batch;
  }
  return static_cast<double>(events) / busy.count();
}

/// An appender: append, wait for the acknowledgement, repeat, until told.
void append_next(caf::event_based_actor* self, const actors::journal_actor& journal, size_t id,
                 std::atomic<uint64_t>* acked, std::atomic<bool>* stop) {
  if (stop->load()) {
    --running_appenders;
    return self->quit();
  }
  self->request(journal, 30s, actors::append_atom_v, one_event(id))
    .then(
      [=](const storage::append_result&) {
        ++*acked;
        append_next(self, journal, id, acked, stop);
      },
      [=](const caf::error&) { append_next(self, journal, id, acked, stop); });
}

caf::behavior appender(caf::event_based_actor* self, actors::journal_actor journal, size_t id,
                       std::atomic<uint64_t>* acked, std::atomic<bool>* stop) {
  append_next(self, journal, id, acked, stop);
  return {[](caf::unit_t) {}};
}

double actor_rate(const options& o, size_t appenders, int64_t commit_wait_us) {
  auto path = o.dir + "/actor.db";
  fresh(path);
  actors::system_config cfg;
  caf::actor_system sys(cfg);
  storage::journal_options jo;
  jo.path = path;
  auto j = std::make_shared<storage::journal>(jo);
  config::journal_settings js;
  js.commit_wait_us = commit_wait_us;
  auto journal = actors::spawn_journal(sys, j, js);
  std::atomic<uint64_t> acked{0};
  std::atomic<bool> stop{false};
  auto start = clock_type::now();
  running_appenders = appenders;
  for (size_t i = 0; i < appenders; ++i)
    sys.spawn(appender, journal, i, &acked, &stop);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  auto n = acked.load();
  auto elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  stop = true;
  {
    caf::scoped_actor self(sys);
    self->request(journal, 10s, actors::stats_atom_v)
      .receive(
        [&](const actors::actor_stats& s) {
          std::fprintf(stderr,
                       "  %zu appenders, wait %lld us: %lld batches, %.1f events/batch, journal "
                       "actor busy %.0f%%, "
                       "writer committing %.0f%%, %.2f us per actor message\n",
                       appenders, static_cast<long long>(commit_wait_us),
                       static_cast<long long>(s.figures.at("batches")),
                       static_cast<double>(s.figures.at("events"))
                         / static_cast<double>(std::max<int64_t>(1, s.figures.at("batches"))),
                       100.0 * static_cast<double>(s.busy_ns) / (elapsed * 1e9),
                       100.0 * static_cast<double>(s.figures.at("commit_ns")) / (elapsed * 1e9),
                       static_cast<double>(s.busy_ns)
                         / static_cast<double>(std::max<uint64_t>(1, s.messages)) / 1e3);
        },
        [](const caf::error&) {});
  }
  while (running_appenders.load() > 0)
    std::this_thread::sleep_for(1ms);
  sys.await_actors_before_shutdown(true);
  caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
  return static_cast<double>(n) / elapsed;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--seconds")
      o.seconds = std::stod(argv[i + 1]);
    else if (f == "--reps")
      o.reps = std::stoi(argv[i + 1]);
    else if (f == "--dir")
      o.dir = argv[i + 1];
    else if (f == "--commit-wait-us") {
      o.waits.clear();
      std::string list = argv[i + 1];
      for (size_t at = 0; at <= list.size();) {
        auto comma = std::min(list.find(',', at), list.size());
        o.waits.push_back(std::stoll(list.substr(at, comma - at)));
        at = comma + 1;
      }
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::filesystem::create_directories(o.dir);
  std::printf("# group commit: appends/s through the journal actor vs the raw journal\n");
  std::printf("# durability full, 100 B payloads, 100 streams, %.1fs x %d reps, medians\n",
              o.seconds, o.reps);
  std::printf("%-10s %10s %14s %18s %14s %8s\n", "appenders", "wait us", "actor/s", "raw batch",
              "raw/s", "ratio");
  for (size_t n : {size_t{1}, size_t{10}, size_t{100}, size_t{1000}}) {
    std::vector<double> r;
    std::vector<std::vector<double>> a(o.waits.size());
    for (int rep = 0; rep < o.reps; ++rep) {
      r.push_back(raw_rate(o, n));
      for (size_t w = 0; w < o.waits.size(); ++w)
        a[w].push_back(actor_rate(o, n, o.waits[w]));
    }
    for (size_t w = 0; w < o.waits.size(); ++w)
      std::printf("%-10zu %10lld %14.0f %18zu %14.0f %8.2f\n", n,
                  static_cast<long long>(o.waits[w]), median(a[w]), n, median(r),
                  median(a[w]) / median(r));
    std::fflush(stdout);
  }
  std::filesystem::remove_all(o.dir);
}
