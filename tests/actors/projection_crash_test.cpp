// Invariant 3 under kill -9: a child process runs a node whose chat
// projection applies events while the child appends as fast as it can; the
// parent kills it with SIGKILL at random moments, and after each kill the
// projection's tables must equal the fold of the journal up to the
// checkpoint stored beside them. The next child resumes from there.
#include "tests/actors/chat_fold.hpp"
#include "tests/actors/node_fixture.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

namespace herald::test {
namespace {

constexpr int kills = 22;

config::settings crash_settings(const std::string& dir) {
  auto s = config::load({});
  s.server.data_dir = dir;
  s.projections.apply_batch = 64;
  s.projections.snapshot_every_events = 0;
  s.projections.snapshot_every = config::duration(0);
  return s;
}

[[noreturn]] void run_child(const std::string& dir, unsigned seed) {
  node_harness h(crash_settings(dir));
  // Appends start once the projection has a generation to apply them to:
  // the test is about applying, and a first build racing a writer on a slow
  // (sanitized) build could be killed before it is ever swapped in.
  h.eventually([&] { return h.status("chat").status != "rebuilding"; }, 60s);
  std::mt19937 rng(seed);
  int in_flight = 0;
  for (int i = 0;; ++i) {
    while (in_flight < 16) {
      std::string data, error;
      protocol::json_to_msgpack("{\"author\":\"a" + std::to_string(rng() % 5) + "\",\"text\":\"t"
                                  + std::to_string(i) + "\"}",
                                data, error);
      h.self->send(h.node.journal, actors::append_atom_v,
                   storage::append_request{
                     "chat:r" + std::to_string(rng() % 9),
                     storage::expected_version::any(),
                     {storage::new_event{rng() % 5 ? "message" : "edit", "", "", data}}});
      ++in_flight;
    }
    h.self->receive([&](const storage::append_result&) { --in_flight; },
                    [&](const caf::error&) { --in_flight; });
  }
}

TEST(projection_crash, tables_equal_the_fold_up_to_the_checkpoint_after_kill_9) {
  temp_dir dir;
  std::mt19937 rng(
    static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  uint64_t last_checkpoint = 0;
  int advanced = 0;
  for (int round = 0; round < kills; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
      run_child(dir.path().string(), static_cast<unsigned>(rng()));
    // 50..400 ms: long enough to start, then anywhere in the middle of work.
    usleep(static_cast<useconds_t>(50000 + rng() % 350000));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself";

    storage::projection_dir pdir(dir.path().string(), "chat");
    auto gens = pdir.generations();
    if (gens.empty()) {
      // Killed while the first generation was still being built (in bulk
      // mode, not yet swapped in): the restart builds it again. A read model
      // that once existed must never vanish, though.
      ASSERT_EQ(last_checkpoint, 0u) << "round " << round << ": the read model vanished";
      continue;
    }
    ASSERT_EQ(gens.size(), 1u);
    // Opening read-write recovers the WAL, as the restarted node would.
    { storage::database recover(gens.back().path, storage::database::mode::read_write); }
    auto checkpoint = checkpoint_of(gens.back().path);
    auto tables = dump_tables(gens.back().path);
    auto fold = chat_fold((dir.path() / "journal.db").string(), checkpoint);
    ASSERT_EQ(tables["rooms"], fold["rooms"]) << "round " << round << " at " << checkpoint;
    ASSERT_EQ(tables["messages"], fold["messages"]) << "round " << round;
    storage::journal_reader journal((dir.path() / "journal.db").string());
    ASSERT_LE(checkpoint, journal.head());
    advanced += checkpoint > last_checkpoint;
    last_checkpoint = checkpoint;
  }
  EXPECT_GE(advanced, kills / 2) << "the projection rarely moved between kills";
  EXPECT_GT(last_checkpoint, 1000u);
}

} // namespace
} // namespace herald::test
