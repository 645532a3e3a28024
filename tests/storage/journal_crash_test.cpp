// Invariant 1 at the storage level: an acknowledged batch survives kill -9.
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

} // namespace
} // namespace herald::test
