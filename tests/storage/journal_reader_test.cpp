// Reads: streams forward and backward, the global log, limits, and readers
// that never wait for the writer.
#include "storage/journal_format.hpp"
#include "tests/storage/journal_fixture.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <random>

namespace herald::test {
namespace {

using storage::direction;
using storage::expected_version;

constexpr uint64_t latest = std::numeric_limits<uint64_t>::max();

class reader_test : public journal_fixture {
protected:
  void SetUp() override {
    journal_fixture::SetUp();
    // Interleave two streams: a gets versions 1..5, b gets 1..3.
    for (int i = 1; i <= 5; ++i) {
      one(append("a", expected_version::any(), {event("ta", "a" + std::to_string(i))}));
      if (i <= 3)
        one(append("b", expected_version::any(), {event("tb", "b" + std::to_string(i))}));
    }
  }

  static std::vector<uint64_t> versions(const storage::stream_slice& s) {
    std::vector<uint64_t> out;
    for (const auto& e : s.events)
      out.push_back(e.version);
    return out;
  }
};

TEST_F(reader_test, stream_forward_from_a_version_with_a_limit) {
  auto r = reader();
  auto s = r.read_stream("a", 2, direction::forward, 3);
  EXPECT_EQ(s.version, 5u);
  EXPECT_EQ(versions(s), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(s.events[0].data, "a2");
  EXPECT_EQ(s.events[0].stream, "a");
  EXPECT_EQ(versions(r.read_stream("a", 1, direction::forward, 100)),
            (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(r.read_stream("a", 6, direction::forward, 100).events.empty());
}

TEST_F(reader_test, stream_backward_newest_first) {
  auto r = reader();
  EXPECT_EQ(versions(r.read_stream("a", latest, direction::backward, 2)),
            (std::vector<uint64_t>{5, 4}));
  EXPECT_EQ(versions(r.read_stream("a", 3, direction::backward, 10)),
            (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_EQ(versions(r.read_stream("b", latest, direction::backward, 10)),
            (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_TRUE(r.read_stream("a", 0, direction::backward, 10).events.empty());
}

TEST_F(reader_test, a_zero_limit_reads_only_the_version) {
  auto s = reader().read_stream("a", 1, direction::forward, 0);
  EXPECT_TRUE(s.events.empty());
  EXPECT_EQ(s.version, 5u);
}

// A read of large events stops at a size (what a history reply may carry),
// so it never loads more than that; it returns at least one event.
TEST_F(reader_test, a_stream_read_stops_at_max_bytes) {
  auto r = reader();
  const auto size =
    storage::journal_reader::stored_size(r.read_stream("a", 1, direction::forward, 1).events.at(0));
  EXPECT_EQ(versions(r.read_stream("a", 1, direction::forward, 100, 3 * size)),
            (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(versions(r.read_stream("a", 1, direction::forward, 100, 3 * size - 1)),
            (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(versions(r.read_stream("a", latest, direction::backward, 100, 2 * size)),
            (std::vector<uint64_t>{5, 4}));
  EXPECT_EQ(versions(r.read_stream("a", 2, direction::forward, 100, 1)),
            (std::vector<uint64_t>{2}));
  EXPECT_EQ(versions(r.read_stream("a", 1, direction::forward, 2, 100 * size)),
            (std::vector<uint64_t>{1, 2}));
}

TEST_F(reader_test, missing_and_empty_streams) {
  auto r = reader();
  auto s = r.read_stream("nope", 1, direction::forward, 10);
  EXPECT_EQ(s.version, 0u);
  EXPECT_TRUE(s.events.empty());
  EXPECT_EQ(r.stream_version("nope"), 0u);
  // An append of no events creates nothing.
  one(append("empty", expected_version::no_stream(), {}));
  EXPECT_EQ(r.stream_version("empty"), 0u);
}

TEST_F(reader_test, the_global_log_in_position_order) {
  auto r = reader();
  EXPECT_EQ(r.head(), 8u);
  auto all = r.read_all(1, 100);
  ASSERT_EQ(all.size(), 8u);
  for (size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(all[i].position, i + 1);
  EXPECT_EQ(all[1].stream, "b");
  auto page = r.read_all(4, 3);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].position, 4u);
  EXPECT_EQ(page[2].position, 6u);
  EXPECT_TRUE(r.read_all(9, 10).empty());
  EXPECT_TRUE(r.read_all(1, 0).empty());
  size_t visited =
    r.visit_all(7, 10, [](const storage::event_view& e) { EXPECT_GE(e.position, 7u); });
  EXPECT_EQ(visited, 2u);
}

TEST_F(reader_test, a_reader_sees_new_commits_on_its_next_call) {
  auto r = reader();
  EXPECT_EQ(r.head(), 8u);
  one(append("a", expected_version::exact(5), {event("ta")}));
  EXPECT_EQ(r.head(), 9u);
  EXPECT_EQ(r.stream_version("a"), 6u);
}

// While another connection holds the write lock in the middle of a
// transaction, a reader still answers at once from the last commit.
TEST_F(reader_test, readers_never_wait_for_the_writer) {
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer,
                         "BEGIN IMMEDIATE; INSERT INTO events VALUES "
                         "(9, 1, 6, 't', 'pending', 0, x'', x'')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto r = reader();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(r.head(), 8u);
  EXPECT_EQ(r.read_all(1, 100).size(), 8u);
  EXPECT_EQ(r.stream_version("a"), 5u);
  // The busy timeout is 5 s; an answer well within it means no waiting.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(writer);
}

// A reader holding a snapshot open (a long scan) does not stop the writer.
TEST_F(reader_test, the_writer_never_waits_for_a_reader) {
  auto r = reader();
  size_t seen = r.visit_all(1, 100, [&](const storage::event_view& e) {
    if (e.position == 1) {
      auto res = one(append("c", expected_version::any(), {event("tc")}));
      EXPECT_EQ(res.status, storage::append_status::ok);
    }
  });
  EXPECT_EQ(seen, 8u); // the scan kept its snapshot
  EXPECT_EQ(r.head(), 9u);
}

} // namespace
} // namespace herald::test

namespace herald::test {
namespace {

// Stream reads across the boundary between the folded index and the tail,
// by a reader that lives through several folds.
TEST_F(journal_fixture, stream_reads_span_folds_of_the_index) {
  auto r = reader();
  std::map<std::string, std::vector<uint64_t>> positions; // by stream, by version
  std::mt19937 rng(3);
  const uint64_t total = storage::journal_format::index_fold_events * 2 + 1234;
  while (journal->head() < total) {
    std::vector<storage::append_request> batch;
    for (int i = 0; i < 700; ++i)
      batch.push_back(
        append("s" + std::to_string(rng() % 3), expected_version::any(), {event("t")}));
    std::vector<storage::recorded_event> committed;
    journal->append(batch, &committed);
    for (const auto& e : committed)
      positions[e.stream].push_back(e.position);
    // Read between commits so that the reader's tail sees every fold.
    for (const auto& [stream, ps] : positions)
      ASSERT_EQ(r.stream_version(stream), ps.size());
  }
  auto check = [&](storage::journal_reader& rd) {
    for (const auto& [stream, ps] : positions) {
      // Forward in pages of 1000 from version 1.
      std::vector<uint64_t> got;
      for (uint64_t from = 1;;) {
        auto slice = rd.read_stream(stream, from, direction::forward, 1000);
        ASSERT_EQ(slice.version, ps.size());
        if (slice.events.empty())
          break;
        for (const auto& e : slice.events) {
          ASSERT_EQ(e.version, got.size() + 1);
          got.push_back(e.position);
        }
        from = slice.events.back().version + 1;
      }
      EXPECT_EQ(got, ps) << stream;
      // Backward in pages of 777 from the top.
      std::vector<uint64_t> back;
      for (uint64_t from = latest;;) {
        auto slice = rd.read_stream(stream, from, direction::backward, 777);
        if (slice.events.empty())
          break;
        for (const auto& e : slice.events)
          back.push_back(e.position);
        from = slice.events.back().version - 1;
        if (from == 0)
          break;
      }
      std::reverse(back.begin(), back.end());
      EXPECT_EQ(back, ps) << stream;
    }
  };
  check(r);
  auto fresh = reader(); // a reader that starts with a long tail
  check(fresh);
  journal->fold_index();
  check(r);
  open(); // the writer rebuilds its view of the tail on open
  auto res = one(append("s0", expected_version::exact(positions["s0"].size()), {event("t")}));
  EXPECT_EQ(res.status, storage::append_status::ok);
}

} // namespace
} // namespace herald::test
