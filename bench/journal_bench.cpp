// bench/journal: durable appends per second through the journal, against
// the raw limit of plain SQLite inserts of the same rows in transactions of
// the same size with the same settings, measured side by side in one run;
// then full-log replay speed.
//
//   build/bench/journal [--seconds S] [--reps R] [--dir DIR] [--replay N] [--ids-only 1]
//                 [--id-fold N]
//
// Each cell runs journal and raw alternately R times for S seconds each and
// reports the medians, so that a noisy neighbour hurts both alike.
#include "storage/ids.hpp"
#include "storage/journal.hpp"
#include "storage/journal_reader.hpp"
#include "storage/sqlite.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace herald;
using clock_type = std::chrono::steady_clock;

struct options {
  double seconds = 1.5;
  int reps = 3;
  std::string dir = "/tmp/herald-bench-journal";
  size_t replay_events = 1000000;
  bool ids_only = false; ///< --ids-only 1: just the client-supplied id rows
  uint64_t id_fold = 0;  ///< --id-fold N: journal.id_fold_events (0: its default)
};

std::string payload(size_t size, std::mt19937& rng) {
  std::string p(size, '\0');
  for (auto& c : p)
    c = static_cast<char>('a' + rng() % 26);
  return p;
}

void remove_db(const std::string& path) {
  for (auto suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path + suffix);
}

/// Appends batches of `batch` single-event appends to 100 streams for
/// `seconds`; returns events per second.
double run_journal(const std::string& path, config::durability d, size_t batch, size_t size,
                   double seconds, bool client_ids = false, uint64_t id_fold = 0) {
  remove_db(path);
  storage::journal_options o;
  o.path = path;
  o.durability = d;
  if (id_fold > 0)
    o.id_fold_events = id_fold;
  storage::journal j(o);
  std::mt19937 rng(1);
  storage::uuid_generator uuids;
  const std::string data = payload(size, rng);
  size_t events = 0;
  // Only the time inside append() counts: building the requests is the
  // caller's work (the journal actor receives them ready-made).
  std::chrono::duration<double> busy{0};
  auto end = clock_type::now() + std::chrono::duration<double>(seconds);
  std::vector<storage::append_request> reqs;
  while (clock_type::now() < end) {
    reqs.clear();
    for (size_t i = 0; i < batch; ++i)
      reqs.push_back({"stream-" + std::to_string(rng() % 100),
                      storage::expected_version::any(),
                      {storage::new_event{"message", client_ids ? uuids.next() : "", "", data}}});
    auto t0 = clock_type::now();
    j.append(reqs);
    busy += clock_type::now() - t0;
    events += batch;
  }
  return static_cast<double>(events) / busy.count();
}

/// What the raw yardstick does with client-supplied ids.
enum class raw_ids : uint8_t {
  none,    ///< no ids: the index-free yardstick
  stored,  ///< a random UUID stored in each row, no index on it
  indexed, ///< stored, with format 2's unique index on (stream_id, id)
};

/// The same rows the journal writes (integer stream id, version, type, time,
/// payload; generated ids are not stored), inserted with one prepared
/// statement into a table with no index but its primary key. With
/// raw_ids::indexed, each row also carries a random UUID and the table has
/// a unique index on (stream_id, id): what SQLite itself costs for such an
/// index; with raw_ids::stored, the same rows without the index: what the
/// bytes of the ids cost.
double run_raw(const std::string& path, config::durability d, size_t batch, size_t size,
               double seconds, raw_ids ids_mode = raw_ids::none) {
  const bool client_ids = ids_mode != raw_ids::none;
  remove_db(path);
  storage::database db(path, storage::database::mode::read_write_create);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(d == config::durability::full ? "PRAGMA synchronous = FULL"
                                        : "PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY");
  db.exec("CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id INTEGER, "
          "version INTEGER, type TEXT, id TEXT, time INTEGER, meta BLOB, data BLOB)");
  if (ids_mode == raw_ids::indexed)
    db.exec("CREATE UNIQUE INDEX events_by_stream_id ON events (stream_id, id) "
            "WHERE id IS NOT NULL");
  storage::uuid_generator uuids;
  auto insert = db.prepare("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  std::mt19937 rng(1);
  const std::string data = payload(size, rng);
  int64_t position = 0;
  int64_t versions[100] = {};
  struct row {
    int64_t stream;
    std::string type, id, meta, data;
  };
  std::vector<row> rows;
  // As for the journal, the rows are built before the clock runs, each with
  // its own copy of the payload.
  std::chrono::duration<double> busy{0};
  auto end = clock_type::now() + std::chrono::duration<double>(seconds);
  while (clock_type::now() < end) {
    rows.clear();
    for (size_t i = 0; i < batch; ++i)
      rows.push_back(
        {static_cast<int64_t>(rng() % 100), "message", client_ids ? uuids.next() : "", "", data});
    auto t0 = clock_type::now();
    storage::transaction tx(db, storage::transaction::kind::immediate);
    for (const auto& r : rows) {
      ++position;
      auto row = insert.use();
      row.bind(1, position)
        .bind(2, r.stream + 1)
        .bind(3, ++versions[r.stream])
        .bind(4, r.type)
        .bind(6, int64_t{1700000000000})
        .bind_blob(7, r.meta)
        .bind_blob(8, r.data);
      if (r.id.empty())
        row.bind_null(5);
      else
        row.bind(5, r.id);
      row.run();
    }
    tx.commit();
    busy += clock_type::now() - t0;
  }
  return static_cast<double>(position) / busy.count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string human(double v) {
  char buf[32];
  if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

void bench_client_ids(const options& o);

void bench_appends(const options& o) {
  if (o.ids_only) {
    bench_client_ids(o);
    return;
  }
  std::printf("# appends/s: journal vs raw SQLite inserts, same rows, same transaction size\n");
  std::printf("# %.1fs x %d reps per cell, medians; WAL; 100 streams; one event per append\n",
              o.seconds, o.reps);
  std::printf("%-10s %-8s %6s %14s %14s %8s\n", "durability", "payload", "batch", "journal/s",
              "raw/s", "ratio");
  for (auto d : {config::durability::full, config::durability::normal})
    for (size_t size : {size_t{100}, size_t{1024}})
      for (size_t batch : {size_t{1}, size_t{10}, size_t{100}, size_t{1000}}) {
        std::vector<double> jr, rr;
        for (int rep = 0; rep < o.reps; ++rep) {
          rr.push_back(run_raw(o.dir + "/raw.db", d, batch, size, o.seconds));
          jr.push_back(run_journal(o.dir + "/journal.db", d, batch, size, o.seconds));
        }
        double j = median(jr), r = median(rr);
        std::printf("%-10s %-8s %6zu %14s %14s %8.2f\n",
                    d == config::durability::full ? "full" : "normal", size == 100 ? "100B" : "1KB",
                    batch, human(j).c_str(), human(r).c_str(), j / r);
        std::fflush(stdout);
      }
  bench_client_ids(o);
}

void bench_client_ids(const options& o) {
  // Client-supplied ids (random UUIDs) are indexed for idempotency. Two
  // ratios: against the raw yardstick above (no index: the issue's
  // definition), and against raw inserts of the same rows, ids included,
  // into a table with a unique index on them (what SQLite itself costs for
  // that index). Two more columns locate the rest: raw inserts storing the
  // ids without an index (what their bytes cost), and the journal without
  // ids (what its own machinery costs).
  std::printf("\n# client-supplied ids (random UUIDs), full, 100B: ratio = journal / raw, "
              "ratio-idx = journal / raw with the same ids and unique index, raw-ids = raw "
              "storing the ids without index, noids = the journal without ids\n");
  std::printf("%-10s %-8s %6s %14s %14s %8s %14s %9s %12s %12s\n", "durability", "payload", "batch",
              "journal/s", "raw/s", "ratio", "raw-idx/s", "ratio-idx", "raw-ids/s", "noids/s");
  const auto full = config::durability::full;
  for (size_t batch : {size_t{100}, size_t{1000}}) {
    std::vector<double> jr, rr, ir, sr, nr;
    for (int rep = 0; rep < o.reps; ++rep) {
      rr.push_back(run_raw(o.dir + "/raw.db", full, batch, 100, o.seconds));
      ir.push_back(run_raw(o.dir + "/raw.db", full, batch, 100, o.seconds, raw_ids::indexed));
      sr.push_back(run_raw(o.dir + "/raw.db", full, batch, 100, o.seconds, raw_ids::stored));
      jr.push_back(
        run_journal(o.dir + "/journal.db", full, batch, 100, o.seconds, true, o.id_fold));
      nr.push_back(run_journal(o.dir + "/journal.db", full, batch, 100, o.seconds));
    }
    double j = median(jr), r = median(rr), i = median(ir);
    std::printf("%-10s %-8s %6zu %14s %14s %8.2f %14s %9.2f %12s %12s  (client-supplied ids)\n",
                "full", "100B", batch, human(j).c_str(), human(r).c_str(), j / r, human(i).c_str(),
                j / i, human(median(sr)).c_str(), human(median(nr)).c_str());
    std::fflush(stdout);
  }
}

void bench_replay(const options& o) {
  const std::string path = o.dir + "/replay.db";
  remove_db(path);
  {
    storage::journal_options jo;
    jo.path = path;
    jo.durability = config::durability::normal;
    storage::journal j(jo);
    std::mt19937 rng(2);
    const std::string data = payload(100, rng);
    std::vector<storage::append_request> reqs;
    for (size_t written = 0; written < o.replay_events; written += 1000) {
      reqs.clear();
      for (size_t i = 0; i < 1000; ++i)
        reqs.push_back({"stream-" + std::to_string(rng() % 1000),
                        storage::expected_version::any(),
                        {storage::new_event{"message", "", "", data}}});
      j.append(reqs);
    }
    j.checkpoint();
  }
  storage::journal_reader r(path);
  std::vector<double> rates;
  size_t total = 0;
  for (int rep = 0; rep < o.reps; ++rep) {
    auto start = clock_type::now();
    total = 0;
    size_t bytes = 0;
    // Pages of 10k events, as a projection rebuild reads them.
    for (uint64_t from = 1;;) {
      size_t n = r.visit_all(from, 10000, [&](const storage::event_view& e) {
        bytes += e.data.size() + e.stream.size();
        from = e.position + 1;
      });
      total += n;
      if (n == 0)
        break;
    }
    rates.push_back(static_cast<double>(total)
                    / std::chrono::duration<double>(clock_type::now() - start).count());
    if (bytes == 0)
      std::printf("nothing read\n");
  }
  std::printf("\n# full-log replay: %zu events of 100 B over 1000 streams, pages of 10k\n", total);
  std::printf("replay %s events/s (median of %d)\n", human(median(rates)).c_str(), o.reps);
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds")
      o.seconds = std::stod(argv[i + 1]);
    else if (flag == "--reps")
      o.reps = std::stoi(argv[i + 1]);
    else if (flag == "--dir")
      o.dir = argv[i + 1];
    else if (flag == "--ids-only")
      o.ids_only = std::stoi(argv[i + 1]) != 0;
    else if (flag == "--id-fold")
      o.id_fold = std::stoull(argv[i + 1]);
    else if (flag == "--replay")
      o.replay_events = std::stoul(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::filesystem::create_directories(o.dir);
  std::printf("herald journal bench, SQLite %s\n", sqlite3_libversion());
  bench_appends(o);
  if (!o.ids_only)
    bench_replay(o);
  std::filesystem::remove_all(o.dir);
}
