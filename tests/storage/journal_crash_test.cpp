// Invariant 1 at the storage level: an acknowledged batch survives kill -9,
// and so do the client ids of every stored event.
//
// A child process appends batches as fast as it can and reports each
// acknowledged batch to the parent through a pipe. The parent kills it with
// SIGKILL at a random moment, reopens the journal and checks that every
// acknowledged event is there, positions are gap-free, and no batch is half
// written. Then again, on the same file, many times.
#include "storage/journal.hpp"
#include "storage/journal_reader.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>

namespace herald::test {
namespace {

using storage::expected_version;

constexpr int kills = 25;

/// What the child reports after each acknowledged batch.
struct ack {
  uint64_t batch;
  uint64_t last_position;
};

/// Event data: "<batch> <events in the batch>", so that the parent can
/// recognise a batch that was written only partly.
std::string tag(uint64_t batch, size_t count) {
  return std::to_string(batch) + " " + std::to_string(count);
}

[[noreturn]] void child(const std::string& path, config::durability d, uint64_t first_batch,
                        int out_fd, unsigned seed) {
  try {
    storage::journal_options o;
    o.path = path;
    o.durability = d;
    storage::journal j(o);
    std::mt19937 rng(seed);
    for (uint64_t batch = first_batch;; ++batch) {
      std::vector<storage::append_request> reqs;
      size_t appends = 1 + rng() % 30;
      std::vector<size_t> sizes;
      size_t total = 0;
      for (size_t i = 0; i < appends; ++i)
        total += sizes.emplace_back(1 + rng() % 5);
      for (size_t i = 0; i < appends; ++i) {
        storage::append_request r{
          "stream-" + std::to_string(rng() % 50), expected_version::any(), {}};
        for (size_t k = 0; k < sizes[i]; ++k)
          r.events.push_back({"t", "", "", tag(batch, total) + std::string(rng() % 300, 'x')});
        reqs.push_back(std::move(r));
      }
      auto results = j.append(reqs);
      ack a{batch, results.back().last_position};
      if (write(out_fd, &a, sizeof a) != sizeof a)
        _exit(3);
    }
  } catch (...) {
    _exit(4);
  }
}

struct crash_test : ::testing::TestWithParam<config::durability> {};

TEST_P(crash_test, acknowledged_batches_survive_kill_9) {
  temp_dir dir;
  const std::string path = dir.file("journal.db");
  std::mt19937 rng(
    static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::map<uint64_t, uint64_t> acked; // batch -> its last position
  uint64_t next_batch = 1;
  int killed_while_acking = 0;
  for (int round = 0; round < kills; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      child(path, GetParam(), next_batch, fds[1], static_cast<unsigned>(rng()));
    }
    close(fds[1]);
    // Let it run for a random time between 0 and 150 ms, collecting acks.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 150000);
    size_t acks_this_round = 0;
    auto take = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0)
        return false;
      ack a;
      if (read(fds[0], &a, sizeof a) != sizeof a)
        return false;
      acked[a.batch] = a.last_position;
      next_batch = std::max(next_batch, a.batch + 1);
      ++acks_this_round;
      return true;
    };
    while (std::chrono::steady_clock::now() < deadline)
      take(1);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself, status " << status;
    while (take(0)) {
    } // acks written before the kill count too
    close(fds[0]);
    killed_while_acking += acks_this_round > 0;
    // Batch numbers of the next child start past anything this one may have
    // committed without acknowledging.
    next_batch += 1000000;

    // Reopening as the writer recovers the WAL, as a restarted node would.
    storage::journal_options o;
    o.path = path;
    storage::journal j(o);
    storage::journal_reader r(path);
    std::map<uint64_t, std::pair<size_t, size_t>> batches; // seen, declared
    std::map<std::string, uint64_t> versions;
    uint64_t expected_position = 0;
    r.visit_all(1, SIZE_MAX, [&](const storage::event_view& e) {
      ASSERT_EQ(e.position, ++expected_position) << "gap in positions";
      ASSERT_EQ(e.version, ++versions[std::string(e.stream)]) << "gap in " << e.stream;
      auto data = std::string(e.data);
      auto space = data.find(' ');
      uint64_t batch = std::stoull(data.substr(0, space));
      auto& b = batches[batch];
      ++b.first;
      b.second = std::stoul(data.substr(space + 1));
    });
    ASSERT_EQ(expected_position, j.head());
    for (const auto& [batch, counts] : batches)
      ASSERT_EQ(counts.first, counts.second) << "batch " << batch << " is half written";
    for (const auto& [batch, last] : acked) {
      ASSERT_TRUE(batches.count(batch)) << "acknowledged batch " << batch << " was lost";
      ASSERT_LE(last, j.head());
    }
  }
  // Most rounds must have killed a child that was busy appending, or the
  // test proved little.
  EXPECT_GE(killed_while_acking, kills / 2);
  EXPECT_GT(acked.size(), 100u);
}

INSTANTIATE_TEST_SUITE_P(durability, crash_test,
                         ::testing::Values(config::durability::full, config::durability::normal),
                         [](const auto& info) {
                           return info.param == config::durability::full ? "full" : "normal";
                         });

// Client-supplied ids across kill -9: the child folds its ids every ~18
// batches, so kills land before, during and after folds. After each, every
// stored event's id must still decide a retry: idempotent at its position,
// or duplicate_id with other data, whether it was folded or sits in the tail
// that the new writer rebuilt from the log. A batch holds ~11 events: at 200
// most kills leave a tail behind a fold (at 40 only about half did, too close
// to the bar at the end of the test).
constexpr uint64_t crash_id_fold_events = 200;

[[noreturn]] void child_with_ids(const std::string& path, uint64_t first_batch, int out_fd,
                                 unsigned seed) {
  try {
    storage::journal_options o;
    o.path = path;
    o.id_fold_events = crash_id_fold_events;
    storage::journal j(o);
    std::mt19937 rng(seed);
    for (uint64_t batch = first_batch;; ++batch) {
      std::vector<storage::append_request> reqs;
      size_t appends = 1 + rng() % 10;
      for (size_t i = 0; i < appends; ++i) {
        storage::append_request r{
          "stream-" + std::to_string(rng() % 20), expected_version::any(), {}};
        for (size_t k = 0, n = 1 + rng() % 3; k < n; ++k) {
          std::string id =
            std::to_string(batch) + "-" + std::to_string(i) + "-" + std::to_string(k);
          r.events.push_back({"t", id, "", "data of " + id});
        }
        reqs.push_back(std::move(r));
      }
      auto results = j.append(reqs);
      ack a{batch, results.back().last_position};
      if (write(out_fd, &a, sizeof a) != sizeof a)
        _exit(3);
    }
  } catch (...) {
    _exit(4);
  }
}

/// The ids folded into event_ids so far, per the journal file.
uint64_t ids_fold_point(const std::string& path) {
  storage::database db(path, storage::database::mode::read_only);
  return static_cast<uint64_t>(db.query_int(
    "SELECT CAST(value AS INTEGER) FROM journal_meta WHERE key = 'ids_indexed_through'"));
}

/// Retries every stored event with its id, and each tenth with other data.
void check_every_id_decides(storage::journal& j, const std::string& path) {
  std::vector<storage::append_request> retries;
  std::vector<uint64_t> positions;
  storage::journal_reader(path).visit_all(1, SIZE_MAX, [&](const storage::event_view& e) {
    const bool other = e.position % 10 == 0;
    retries.push_back(
      {std::string(e.stream),
       expected_version::any(),
       {{std::string(e.type), std::string(e.id), "", other ? "other data" : std::string(e.data)}}});
    positions.push_back(e.position);
  });
  const uint64_t head = j.head();
  auto results = j.append(retries);
  for (size_t i = 0; i < results.size(); ++i) {
    if (positions[i] % 10 == 0) {
      ASSERT_EQ(results[i].status, storage::append_status::duplicate_id)
        << "position " << positions[i];
    } else {
      ASSERT_EQ(results[i].status, storage::append_status::idempotent)
        << "position " << positions[i];
      ASSERT_EQ(results[i].first_position, positions[i]);
    }
  }
  ASSERT_EQ(j.head(), head) << "a retry stored something";
}

TEST(crash_ids_test, stored_ids_survive_kill_9_across_folds) {
  temp_dir dir;
  const std::string path = dir.file("journal.db");
  std::mt19937 rng(
    static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  uint64_t next_batch = 1, acked_position = 0;
  int reopened_with_a_tail = 0;
  for (int round = 0; round < kills; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      child_with_ids(path, next_batch, fds[1], static_cast<unsigned>(rng()));
    }
    close(fds[1]);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 150000);
    bool acked_this_round = false;
    auto take = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0)
        return false;
      ack a;
      if (read(fds[0], &a, sizeof a) != sizeof a)
        return false;
      acked_position = std::max(acked_position, a.last_position);
      acked_this_round = true;
      return true;
    };
    // Kill at a random moment, but not before this child stored anything: a
    // kill while it still opens the journal leaves no new tail to check.
    const auto give_up = deadline + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline
           || (!acked_this_round && std::chrono::steady_clock::now() < give_up))
      take(1);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself, status " << status;
    while (take(0)) {
    }
    close(fds[0]);
    next_batch += 1000000; // ids of the next child never repeat this one's

    const uint64_t fold_point = ids_fold_point(path);
    storage::journal_options o;
    o.path = path;
    o.id_fold_events = crash_id_fold_events;
    storage::journal j(o);
    ASSERT_GE(j.head(), acked_position) << "an acknowledged batch was lost";
    reopened_with_a_tail += fold_point > 0 && fold_point < j.head();
    check_every_id_decides(j, path);
  }
  // The test proves something only if kills left unfolded ids behind after
  // earlier folds.
  EXPECT_GE(reopened_with_a_tail, kills / 2);
  RecordProperty("reopened_with_a_tail", reopened_with_a_tail);
}

} // namespace
} // namespace herald::test
