// The journal actor: group commit with concurrent appenders, acknowledgement
// only after commit, committed batches to listeners, the overload answer,
// and a full disk answered with a temporary error until space returns.
#include "tests/actors/actor_fixture.hpp"

#include "storage/journal_reader.hpp"

#include "tests/support/log_capture.hpp"

#include <caf/after.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <sqlite3.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>

namespace herald::test {
namespace {

using storage::append_status;
using storage::expected_version;

TEST_F(actor_fixture, concurrent_appenders_get_gap_free_positions_and_correct_conflicts) {
  start_journal();
  constexpr int owners = 8, racers = 8, per_thread = 60;
  std::mutex mu;
  std::set<uint64_t> positions;
  std::map<std::string, std::vector<uint64_t>> versions;
  int conflicts = 0, unexpected = 0;
  auto run = [&](int id, bool racer) {
    caf::scoped_actor me(sys);
    storage::journal_reader check(dir.file("journal.db"));
    std::string stream = racer ? "hot" : "own-" + std::to_string(id);
    uint64_t expected = 0;
    for (int done = 0; done < per_thread;) {
      storage::append_request req{
        stream, expected_version::exact(expected), {storage::new_event{"t", "", "", "d"}}};
      me->request(journal, 30s, actors::append_atom_v, req)
        .receive(
          [&](const storage::append_result& r) {
            std::lock_guard<std::mutex> lock(mu);
            if (r.status == append_status::ok) {
              // Acknowledged means committed: another connection sees it.
              auto seen = check.read_all(r.first_position, 1);
              if (seen.size() != 1 || seen[0].version != r.first_version)
                ++unexpected;
              positions.insert(r.first_position);
              versions[stream].push_back(r.first_version);
              expected = r.last_version;
              ++done;
            } else if (r.status == append_status::wrong_expected_version && racer) {
              // The conflict reports where the stream really is.
              if (r.actual_version <= expected)
                ++unexpected;
              expected = r.actual_version;
              ++conflicts;
            } else {
              ++unexpected;
            }
          },
          [&](const caf::error& e) {
            ADD_FAILURE() << sys.render(e);
            done = per_thread;
          });
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < owners + racers; ++i)
    threads.emplace_back(run, i, i >= owners);
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(unexpected, 0);
  EXPECT_GT(conflicts, 0) << "the racers never collided; the test proved little";
  const uint64_t total = (owners + racers) * per_thread;
  ASSERT_EQ(positions.size(), total);
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), total);
  for (auto& [stream, vs] : versions) {
    std::sort(vs.begin(), vs.end());
    for (size_t i = 0; i < vs.size(); ++i)
      ASSERT_EQ(vs[i], i + 1) << stream;
  }
  // Group commit happened: fewer transactions than appends.
  self->request(journal, 5s, actors::stats_atom_v)
    .receive(
      [&](const actors::actor_stats& s) {
        EXPECT_EQ(s.figures.at("events"), static_cast<int64_t>(total));
        EXPECT_LT(s.figures.at("batches"), s.figures.at("appends"));
        EXPECT_GT(s.messages, total);
        EXPECT_GT(s.busy_ns, 0u);
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

// Group commit that means something: with 100 appends in flight at once,
// the journal writes them in few transactions (at least 10 events each on
// average), not one per append.
TEST_F(actor_fixture, a_hundred_appenders_in_flight_share_transactions) {
  start_journal();
  constexpr int in_flight = 100, rounds = 20;
  caf::scoped_actor me(sys);
  int acknowledged = 0;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < in_flight; ++i)
      me->send(journal, actors::append_atom_v,
               storage::append_request{"s-" + std::to_string(i),
                                       expected_version::any(),
                                       {storage::new_event{"t", "", "", "d"}}});
    for (int i = 0; i < in_flight; ++i)
      me->receive(
        [&](const storage::append_result& r) {
          EXPECT_EQ(r.status, append_status::ok);
          ++acknowledged;
        },
        [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); },
        caf::after(30s) >> [&] { ADD_FAILURE() << "no acknowledgement within 30 s"; });
  }
  ASSERT_EQ(acknowledged, in_flight * rounds);
  me->request(journal, 5s, actors::stats_atom_v)
    .receive(
      [&](const actors::actor_stats& s) {
        const auto appends = s.figures.at("appends"), batches = s.figures.at("batches");
        EXPECT_EQ(appends, in_flight * rounds);
        EXPECT_GE(appends, 10 * batches) << appends << " appends in " << batches << " batches";
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

// Closed-loop appenders (each waits for its ack before appending again)
// would split into two halves alternating with the fsync, each batch taking
// only the appends that arrived during the last commit. The journal waits
// (journal.commit_wait_us) for the appenders a commit acknowledged, so they
// share one batch per round.
TEST_F(actor_fixture, closed_loop_appenders_share_one_batch_per_round) {
  config::journal_settings js;
  js.commit_wait_us = 500000; // far longer than any appender takes to come back
  start_journal(js);
  constexpr int appenders = 50, rounds = 20;
  std::atomic<int> acknowledged{0};
  auto run = [&](int id) {
    caf::scoped_actor me(sys);
    for (int round = 0; round < rounds; ++round)
      me->request(journal, 30s, actors::append_atom_v,
                  storage::append_request{"loop-" + std::to_string(id),
                                          expected_version::any(),
                                          {storage::new_event{"t", "", "", "d"}}})
        .receive(
          [&](const storage::append_result& r) {
            EXPECT_EQ(r.status, append_status::ok);
            ++acknowledged;
          },
          [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < appenders; ++i)
    threads.emplace_back(run, i);
  for (auto& t : threads)
    t.join();
  ASSERT_EQ(acknowledged.load(), appenders * rounds);
  self->request(journal, 5s, actors::stats_atom_v)
    .receive(
      [&](const actors::actor_stats& s) {
        // A round or two to fall into step; halves alternating would take
        // about twice as many batches as rounds.
        EXPECT_LE(s.figures.at("batches"), rounds + 4);
        EXPECT_EQ(s.figures.at("largest_batch_events"), appenders);
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

TEST_F(actor_fixture, listeners_get_committed_batches_in_position_order) {
  start_journal();
  // The test's own scoped actor listens.
  self->send(journal, actors::listen_atom_v, caf::actor_cast<actors::batch_listener>(self));
  for (int i = 0; i < 50; ++i)
    append("s" + std::to_string(i % 3), expected_version::any(), std::to_string(i));
  std::vector<storage::recorded_event> got;
  while (got.size() < 50) {
    bool timed_out = false;
    self->receive(
      [&](actors::committed_atom, const actors::event_batch& batch) {
        got.insert(got.end(), batch.begin(), batch.end());
      },
      caf::after(10s) >> [&] { timed_out = true; });
    ASSERT_FALSE(timed_out) << "got " << got.size() << " of 50 events";
  }
  ASSERT_EQ(got.size(), 50u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].position, i + 1);
    EXPECT_EQ(got[i].data, std::to_string(i));
    EXPECT_EQ(got[i].id.size(), 36u);
  }
}

// The journal stuck on the write lock (another process holds it) while a
// flood of appends arrives: beyond journal.max_queue they are answered with
// a temporary `overloaded` error instead of queueing without bound.
TEST_F(actor_fixture, overload_is_answered_with_a_temporary_error) {
  config::journal_settings js;
  js.max_queue = 10;
  start_journal(js);
  append("warm", expected_version::any()); // creates the file's tables
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("journal.db").c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  constexpr int flood = 1000;
  for (int i = 0; i < flood; ++i)
    self->send(journal, actors::append_atom_v,
               storage::append_request{
                 "s", expected_version::any(), {storage::new_event{"t", "", "", "d"}}});
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  int ok = 0, overloaded = 0, other = 0;
  for (int i = 0; i < flood; ++i)
    self->receive([&](const storage::append_result& r) { r.succeeded() ? ++ok : ++other; },
                  [&](const caf::error& e) {
                    auto code = actors::code_of(e);
                    if (code == actors::errc::overloaded && actors::is_temporary(code))
                      ++overloaded;
                    else
                      ++other;
                  },
                  caf::after(10s) >> [&] { ++other; });
  EXPECT_EQ(other, 0);
  EXPECT_GT(overloaded, flood / 2);
  EXPECT_GT(ok, 0);
  // The journal is healthy afterwards.
  EXPECT_EQ(append("after", expected_version::no_stream()).status, append_status::ok);
}

// A full disk: every append fails with a temporary `unavailable` error that
// says so (the client may retry), nothing of a failed batch is stored, the
// log says it once when appends start failing and once when they work again,
// and the next append after space returns succeeds with the next position.
TEST_F(actor_fixture, a_full_disk_is_a_temporary_error_until_space_returns) {
  log_capture log;
  start_journal();
  EXPECT_EQ(append("s", expected_version::any()).first_position, 1u);
  journal_file->checkpoint();
  journal_file->limit_pages_for_testing(8); // the journal actor is idle
  auto failing_append = [&](const std::string& stream) {
    storage::append_request req{
      stream, expected_version::any(), {storage::new_event{"t", "", "", std::string(200000, 'x')}}};
    bool failed = false;
    self->request(journal, 10s, actors::append_atom_v, req)
      .receive([&](const storage::append_result&) { ADD_FAILURE() << "stored on a full disk"; },
               [&](const caf::error& e) {
                 failed = true;
                 EXPECT_EQ(actors::code_of(e), actors::errc::unavailable) << sys.render(e);
                 EXPECT_TRUE(actors::is_temporary(actors::code_of(e)));
                 EXPECT_NE(actors::message_of(e).find("full"), std::string::npos)
                   << actors::message_of(e);
               });
    return failed;
  };
  EXPECT_TRUE(failing_append("a"));
  EXPECT_TRUE(failing_append("b"));
  EXPECT_EQ(log.count("journal: appends fail until the disk accepts writes again"), 1u)
    << log.text();
  journal_file->limit_pages_for_testing(0);
  auto r = append("a", expected_version::no_stream());
  EXPECT_EQ(r.status, append_status::ok);
  EXPECT_EQ(r.first_position, 2u);
  EXPECT_EQ(log.count("journal: appends work again (2 batches failed so far)"), 1u) << log.text();
  append("a", expected_version::any());
  EXPECT_EQ(log.count("journal: appends work again"), 1u);
}

TEST_F(actor_fixture, readers_serve_streams_and_the_log) {
  start_journal();
  for (int i = 1; i <= 5; ++i)
    append("r", expected_version::any(), "e" + std::to_string(i));
  self
    ->request(readers, 5s, actors::read_stream_atom_v, std::string("r"), storage::stream_version{2},
              true, uint64_t{2})
    .receive(
      [&](const actors::stream_events& s) {
        EXPECT_EQ(s.version, storage::stream_version{5});
        ASSERT_EQ(s.events.size(), 2u);
        EXPECT_EQ(s.events[0].data, "e2");
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  self
    ->request(readers, 5s, actors::read_stream_atom_v, std::string("r"),
              storage::stream_version{99}, false, uint64_t{1})
    .receive(
      [&](const actors::stream_events& s) {
        ASSERT_EQ(s.events.size(), 1u);
        EXPECT_EQ(s.events[0].version, 5u);
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  self->request(readers, 5s, actors::read_all_atom_v, storage::journal_position{4}, uint64_t{100})
    .receive([&](const actors::event_batch& b) { EXPECT_EQ(b.size(), 2u); },
             [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  self->request(readers, 5s, actors::head_atom_v)
    .receive([&](storage::journal_position h) { EXPECT_EQ(h, storage::journal_position{5}); },
             [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

// A position cannot be passed where a version is expected, nor a bare
// number where either is: what the readers and the journal take and answer.
static_assert(!std::is_convertible_v<storage::stream_version, storage::journal_position>);
static_assert(!std::is_convertible_v<storage::journal_position, storage::stream_version>);
static_assert(!std::is_convertible_v<uint64_t, storage::journal_position>);
static_assert(!std::is_convertible_v<uint64_t, storage::stream_version>);

// Positions and versions keep their value across CAF serialization (they
// travel between nodes inside reads and subscriptions).
TEST_F(actor_fixture, positions_and_versions_survive_serialization) {
  actors::stream_events out{storage::stream_version{7}, {}};
  actors::subscribe_request req;
  req.offset = storage::stream_version{42};
  storage::journal_position head{1234};
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  ASSERT_FALSE(sink(out, req, head));
  actors::stream_events in;
  actors::subscribe_request req_in;
  storage::journal_position head_in;
  caf::binary_deserializer source{sys, buf};
  ASSERT_FALSE(source(in, req_in, head_in));
  EXPECT_EQ(in.version, storage::stream_version{7});
  EXPECT_EQ(req_in.offset, storage::stream_version{42});
  EXPECT_EQ(head_in, storage::journal_position{1234});
}

} // namespace
} // namespace herald::test
