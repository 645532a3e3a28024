// The journal writer's rules: expected versions, batches, idempotency,
// positions, and what happens when the disk refuses.
#include "tests/storage/journal_fixture.hpp"

#include <filesystem>
#include <map>
#include <random>
#include <set>

namespace herald::test {
namespace {

using storage::append_status;
using storage::expected_version;

TEST_F(journal_fixture, new_journal_is_empty_and_keeps_its_id) {
  EXPECT_EQ(journal->head(), 0u);
  auto id = journal->id();
  EXPECT_EQ(id.size(), 36u);
  open();
  EXPECT_EQ(journal->id(), id);
  EXPECT_EQ(reader().journal_id(), id);
}

// Every expected-version mode against a stream that does not exist yet.
TEST_F(journal_fixture, expected_version_on_a_new_stream) {
  struct row {
    expected_version ev;
    append_status want;
  };
  const row rows[] = {
    {expected_version::any(), append_status::ok},
    {expected_version::no_stream(), append_status::ok},
    {expected_version::exact(0), append_status::ok},
    {expected_version::exists(), append_status::wrong_expected_version},
    {expected_version::exact(1), append_status::wrong_expected_version},
  };
  int n = 0;
  for (const auto& r : rows) {
    std::string stream = "new-" + std::to_string(n++);
    auto result = one(append(stream, r.ev, {event("t")}));
    EXPECT_EQ(result.status, r.want) << stream;
    EXPECT_EQ(result.actual_version, 0u) << stream;
    if (r.want == append_status::ok) {
      EXPECT_EQ(result.first_version, 1u);
      EXPECT_EQ(result.last_version, 1u);
    } else {
      EXPECT_EQ(result.first_position, 0u);
      EXPECT_EQ(reader().stream_version(stream), 0u);
    }
  }
}

// Every expected-version mode against a stream at version 2.
TEST_F(journal_fixture, expected_version_on_an_existing_stream) {
  struct row {
    expected_version ev;
    append_status want;
  };
  const row rows[] = {
    {expected_version::any(), append_status::ok},
    {expected_version::exists(), append_status::ok},
    {expected_version::exact(2), append_status::ok},
    {expected_version::no_stream(), append_status::wrong_expected_version},
    {expected_version::exact(0), append_status::wrong_expected_version},
    {expected_version::exact(1), append_status::wrong_expected_version},
    {expected_version::exact(3), append_status::wrong_expected_version},
  };
  int n = 0;
  for (const auto& r : rows) {
    std::string stream = "old-" + std::to_string(n++);
    ASSERT_TRUE(one(append(stream, expected_version::any(), {event("a"), event("b")})).succeeded());
    auto result = one(append(stream, r.ev, {event("c")}));
    EXPECT_EQ(result.status, r.want) << stream;
    EXPECT_EQ(result.actual_version, 2u) << stream;
    EXPECT_EQ(reader().stream_version(stream), r.want == append_status::ok ? 3u : 2u);
  }
}

TEST_F(journal_fixture, a_conflict_fails_only_its_own_append) {
  ASSERT_TRUE(one(append("b", expected_version::any(), {event("x")})).succeeded());
  std::vector<storage::append_request> batch;
  batch.push_back(append("a", expected_version::no_stream(), {event("1"), event("2")}));
  batch.push_back(append("b", expected_version::no_stream(), {event("3")}));
  batch.push_back(append("c", expected_version::any(), {event("4")}));
  auto results = journal->append(batch);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status, append_status::ok);
  EXPECT_EQ(results[0].first_position, 2u);
  EXPECT_EQ(results[0].last_position, 3u);
  EXPECT_EQ(results[1].status, append_status::wrong_expected_version);
  EXPECT_EQ(results[1].actual_version, 1u);
  EXPECT_EQ(results[2].status, append_status::ok);
  EXPECT_EQ(results[2].first_position, 4u);
  EXPECT_EQ(journal->head(), 4u);
  auto all = reader().read_all(1, 100);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].stream, "c");
  EXPECT_EQ(reader().stream_version("b"), 1u);
}

TEST_F(journal_fixture, appends_in_one_batch_see_each_other) {
  std::vector<storage::append_request> batch;
  batch.push_back(append("s", expected_version::no_stream(), {event("1")}));
  batch.push_back(append("s", expected_version::exact(1), {event("2"), event("3")}));
  batch.push_back(append("s", expected_version::exact(1), {event("4")}));
  auto results = journal->append(batch);
  EXPECT_EQ(results[0].status, append_status::ok);
  EXPECT_EQ(results[1].status, append_status::ok);
  EXPECT_EQ(results[1].first_version, 2u);
  EXPECT_EQ(results[1].last_version, 3u);
  EXPECT_EQ(results[2].status, append_status::wrong_expected_version);
  EXPECT_EQ(results[2].actual_version, 3u);
}

TEST_F(journal_fixture, committed_events_are_handed_back_in_position_order) {
  std::vector<storage::append_request> batch;
  batch.push_back(append("a", expected_version::any(), {event("t1", "x"), event("t2", "y")}));
  batch.push_back(append("b", expected_version::exact(7), {event("t3")}));
  batch.push_back(append("c", expected_version::any(), {event("t4", "z", "my-id")}));
  std::vector<storage::recorded_event> committed;
  journal->append(batch, &committed);
  ASSERT_EQ(committed.size(), 3u);
  EXPECT_EQ(committed[0].position, 1u);
  EXPECT_EQ(committed[0].type, "t1");
  EXPECT_EQ(committed[1].data, "y");
  EXPECT_EQ(committed[2].stream, "c");
  EXPECT_EQ(committed[2].id, "my-id");
  EXPECT_EQ(committed[2].version, 1u);
  auto stored = reader().read_all(1, 10);
  ASSERT_EQ(stored.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(stored[i].id, committed[i].id);
    EXPECT_EQ(stored[i].time, committed[i].time);
  }
}

TEST_F(journal_fixture, generated_ids_are_unique_uuids) {
  std::vector<storage::new_event> events;
  for (int i = 0; i < 100; ++i)
    events.push_back(event("t"));
  ASSERT_TRUE(one(append("s", expected_version::any(), std::move(events))).succeeded());
  std::set<std::string> ids;
  for (const auto& e : reader().read_all(1, 1000)) {
    EXPECT_EQ(e.id.size(), 36u);
    EXPECT_EQ(e.id[14], '8') << e.id; // version-8 UUID, derived from the position
    EXPECT_EQ(e.id.substr(0, 8), journal->id().substr(0, 8));
    ids.insert(e.id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

// A client that read a generated id and sends it back is retrying that event.
TEST_F(journal_fixture, generated_ids_sent_back_are_idempotent_or_refused) {
  std::vector<storage::recorded_event> committed;
  std::vector<storage::append_request> batch;
  batch.push_back(append("s", expected_version::any(), {event("t"), event("t")}));
  journal->append(batch, &committed);
  auto again = one(append("s", expected_version::any(),
                          {event("t", "d", committed[0].id), event("t", "d", committed[1].id)}));
  EXPECT_EQ(again.status, append_status::idempotent);
  EXPECT_EQ(again.first_position, 1u);
  EXPECT_EQ(again.last_position, 2u);
  // A generated id names one event of the whole journal: elsewhere, or with
  // other content, it is not a retry of that event.
  auto elsewhere = one(append("x", expected_version::any(), {event("t", "d", committed[0].id)}));
  EXPECT_EQ(elsewhere.status, append_status::duplicate_id);
  auto other_data = one(append("s", expected_version::any(), {event("t", "e", committed[0].id)}));
  EXPECT_EQ(other_data.status, append_status::duplicate_id);
  // The id the journal would give position 99 is reserved.
  std::string future = committed[0].id.substr(0, 33) + "063";
  auto reserved = one(append("s", expected_version::any(), {event("t", "d", future)}));
  EXPECT_EQ(reserved.status, append_status::invalid) << future;
  EXPECT_EQ(journal->head(), 2u);
}

TEST_F(journal_fixture, reappending_stored_ids_returns_the_original_result) {
  auto first = one(
    append("s", expected_version::no_stream(), {event("t", "1", "id-1"), event("t", "2", "id-2")}));
  ASSERT_EQ(first.status, append_status::ok);
  one(append("s", expected_version::any(), {event("t", "3")}));
  // The retry carries the expectation of the first attempt, now stale.
  auto again = one(
    append("s", expected_version::no_stream(), {event("t", "1", "id-1"), event("t", "2", "id-2")}));
  EXPECT_EQ(again.status, append_status::idempotent);
  EXPECT_EQ(again.first_position, first.first_position);
  EXPECT_EQ(again.last_position, first.last_position);
  EXPECT_EQ(again.first_version, 1u);
  EXPECT_EQ(again.last_version, 2u);
  EXPECT_EQ(journal->head(), 3u);
  EXPECT_EQ(reader().read_all(1, 100).size(), 3u);
}

TEST_F(journal_fixture, a_retry_in_the_same_batch_is_idempotent) {
  std::vector<storage::append_request> batch;
  batch.push_back(append("s", expected_version::any(), {event("t", "1", "dup")}));
  batch.push_back(append("s", expected_version::any(), {event("t", "1", "dup")}));
  auto results = journal->append(batch);
  EXPECT_EQ(results[0].status, append_status::ok);
  EXPECT_EQ(results[1].status, append_status::idempotent);
  EXPECT_EQ(results[1].first_position, results[0].first_position);
  EXPECT_EQ(journal->head(), 1u);
}

TEST_F(journal_fixture, ids_stored_partly_or_in_another_order_are_refused) {
  ASSERT_TRUE(
    one(append("s", expected_version::any(), {event("t", "1", "a"), event("t", "2", "b")}))
      .succeeded());
  auto partial =
    one(append("s", expected_version::any(), {event("t", "2", "b"), event("t", "3", "c")}));
  EXPECT_EQ(partial.status, append_status::duplicate_id);
  auto reordered =
    one(append("s", expected_version::any(), {event("t", "2", "b"), event("t", "1", "a")}));
  EXPECT_EQ(reordered.status, append_status::duplicate_id);
  auto twice =
    one(append("s", expected_version::any(), {event("t", "1", "n"), event("t", "1", "n")}));
  EXPECT_EQ(twice.status, append_status::invalid);
  EXPECT_EQ(journal->head(), 2u);
}

// Ids are scoped per stream, as in KurrentDB: a client that used an id on its
// own stream first cannot stop another stream from using it.
TEST_F(journal_fixture, the_same_id_on_two_streams_is_two_events) {
  auto first = one(append("mine", expected_version::any(), {event("paid", "x", "order-77")}));
  ASSERT_EQ(first.status, append_status::ok);
  auto second = one(append("orders", expected_version::any(), {event("paid", "y", "order-77")}));
  ASSERT_EQ(second.status, append_status::ok);
  EXPECT_EQ(second.first_position, 2u);
  // Each stream's retry finds its own event.
  auto again = one(append("orders", expected_version::any(), {event("paid", "y", "order-77")}));
  EXPECT_EQ(again.status, append_status::idempotent);
  EXPECT_EQ(again.first_position, 2u);
  auto mine = one(append("mine", expected_version::any(), {event("paid", "x", "order-77")}));
  EXPECT_EQ(mine.status, append_status::idempotent);
  EXPECT_EQ(mine.first_position, 1u);
  auto all = reader().read_all(1, 100);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "order-77");
  EXPECT_EQ(all[1].id, "order-77");
  EXPECT_EQ(all[1].stream, "orders");
  EXPECT_EQ(all[1].data, "y");
}

// A retry is idempotent only if it carries the stored event: an id reused for
// another type or payload is a conflict, never silently answered with the
// event stored first.
TEST_F(journal_fixture, a_retry_with_other_content_is_a_duplicate_id) {
  ASSERT_EQ(one(append("s", expected_version::any(), {event("paid", "10", "id-1")})).status,
            append_status::ok);
  auto other_data = one(append("s", expected_version::any(), {event("paid", "99", "id-1")}));
  EXPECT_EQ(other_data.status, append_status::duplicate_id);
  EXPECT_NE(other_data.message.find("another type or data"), std::string::npos)
    << other_data.message;
  auto other_type = one(append("s", expected_version::any(), {event("refunded", "10", "id-1")}));
  EXPECT_EQ(other_type.status, append_status::duplicate_id);
  // Meta describes the sender and may differ between attempts.
  storage::new_event with_meta{"paid", "id-1", "\x81\xa4user\xa1u", "10"};
  auto same = one(append("s", expected_version::any(), {with_meta}));
  EXPECT_EQ(same.status, append_status::idempotent);
  EXPECT_EQ(same.first_position, 1u);
  EXPECT_EQ(journal->head(), 1u);
  EXPECT_EQ(reader().read_all(1, 10).at(0).data, "10");
}

TEST_F(journal_fixture, a_batch_retry_must_match_every_event_in_order) {
  ASSERT_EQ(one(append("s", expected_version::any(),
                       {event("a", "1", "b-1"), event("b", "2", "b-2"), event("c", "3", "b-3")}))
              .status,
            append_status::ok);
  auto exact =
    one(append("s", expected_version::any(),
               {event("a", "1", "b-1"), event("b", "2", "b-2"), event("c", "3", "b-3")}));
  EXPECT_EQ(exact.status, append_status::idempotent);
  EXPECT_EQ(exact.first_position, 1u);
  EXPECT_EQ(exact.last_position, 3u);
  // The last event differs only in its data.
  auto last_differs =
    one(append("s", expected_version::any(),
               {event("a", "1", "b-1"), event("b", "2", "b-2"), event("c", "3!", "b-3")}));
  EXPECT_EQ(last_differs.status, append_status::duplicate_id);
  // The middle one differs only in its type.
  auto middle_differs =
    one(append("s", expected_version::any(),
               {event("a", "1", "b-1"), event("x", "2", "b-2"), event("c", "3", "b-3")}));
  EXPECT_EQ(middle_differs.status, append_status::duplicate_id);
  // Same ids and contents, but the contents swapped between ids.
  auto swapped =
    one(append("s", expected_version::any(),
               {event("b", "2", "b-1"), event("a", "1", "b-2"), event("c", "3", "b-3")}));
  EXPECT_EQ(swapped.status, append_status::duplicate_id);
  EXPECT_EQ(journal->head(), 3u);
}

// Within one batch the check sees the events written before it.
TEST_F(journal_fixture, a_retry_in_the_same_batch_must_match_too) {
  std::vector<storage::append_request> batch;
  batch.push_back(append("s", expected_version::any(), {event("t", "1", "dup")}));
  batch.push_back(append("s", expected_version::any(), {event("t", "2", "dup")}));
  batch.push_back(append("other", expected_version::any(), {event("t", "3", "dup")}));
  auto results = journal->append(batch);
  EXPECT_EQ(results[0].status, append_status::ok);
  EXPECT_EQ(results[1].status, append_status::duplicate_id);
  EXPECT_EQ(results[2].status, append_status::ok);
  EXPECT_EQ(journal->head(), 2u);
}

TEST_F(journal_fixture, malformed_appends_are_invalid_and_harm_nothing) {
  std::vector<storage::append_request> batch;
  batch.push_back(append("", expected_version::any(), {event("t")}));
  batch.push_back(append("s", expected_version::any(), {event("")}));
  batch.push_back(append("s", expected_version::any(), {event("t")}));
  auto results = journal->append(batch);
  EXPECT_EQ(results[0].status, append_status::invalid);
  EXPECT_EQ(results[1].status, append_status::invalid);
  EXPECT_EQ(results[2].status, append_status::ok);
  EXPECT_EQ(results[2].first_position, 1u);
}

TEST_F(journal_fixture, an_append_without_events_only_checks_the_version) {
  auto empty = one(append("s", expected_version::no_stream(), {}));
  EXPECT_EQ(empty.status, append_status::ok);
  EXPECT_EQ(empty.first_position, 0u);
  EXPECT_EQ(journal->head(), 0u);
  one(append("s", expected_version::any(), {event("t")}));
  EXPECT_EQ(one(append("s", expected_version::no_stream(), {})).status,
            append_status::wrong_expected_version);
  EXPECT_EQ(one(append("s", expected_version::exact(1), {})).status, append_status::ok);
}

// A stored id in the middle of an append refuses the whole append: none of
// its events is written, whether the id was stored by an earlier batch or
// earlier in this one, and positions, versions, the events handed back and
// the ids stay as if the append had never been tried.
TEST_F(journal_fixture, an_id_found_stored_midway_takes_back_the_events_before_it) {
  ASSERT_EQ(one(append("s", expected_version::any(), {event("t", "1", "old")})).status,
            append_status::ok);
  std::vector<storage::append_request> batch;
  batch.push_back(
    append("s", expected_version::any(), {event("t", "2", "new-1"), event("t", "3", "in-batch")}));
  // Stored by the batch before, found after one insert.
  batch.push_back(
    append("s", expected_version::any(), {event("t", "x", "new-2"), event("t", "1", "old")}));
  // Stored earlier in this batch, found after two inserts (one without an id).
  batch.push_back(append("s", expected_version::any(),
                         {event("t", "x", "new-3"), event("t", "x"), event("t", "3", "in-batch")}));
  // The ids taken back are free again.
  batch.push_back(append("s", expected_version::any(), {event("t", "4", "new-2")}));
  std::vector<storage::recorded_event> committed;
  auto results = journal->append(batch, &committed);
  EXPECT_EQ(results[0].status, append_status::ok);
  EXPECT_EQ(results[1].status, append_status::duplicate_id);
  EXPECT_NE(results[1].message.find("some event ids"), std::string::npos) << results[1].message;
  EXPECT_EQ(results[1].first_position, 0u);
  EXPECT_EQ(results[1].actual_version, 3u);
  EXPECT_EQ(results[2].status, append_status::duplicate_id);
  EXPECT_EQ(results[2].first_position, 0u);
  ASSERT_EQ(results[3].status, append_status::ok);
  EXPECT_EQ(results[3].first_position, 4u);
  EXPECT_EQ(results[3].first_version, 4u);
  ASSERT_EQ(committed.size(), 3u);
  EXPECT_EQ(committed[2].position, 4u);
  EXPECT_EQ(committed[2].id, "new-2");
  EXPECT_EQ(committed[2].data, "4");
  EXPECT_EQ(journal->head(), 4u);
  auto again = one(append("s", expected_version::any(), {event("t", "5", "new-3")}));
  EXPECT_EQ(again.status, append_status::ok);
  EXPECT_EQ(again.first_position, 5u);
  journal->fold_index();
  auto all = reader().read_all(1, 100);
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].position, i + 1);
    EXPECT_EQ(all[i].version, i + 1);
    EXPECT_EQ(all[i].data, std::to_string(i + 1));
  }
  auto stream = reader().read_stream("s", 1, storage::direction::forward, 100);
  EXPECT_EQ(stream.version, 5u);
  ASSERT_EQ(stream.events.size(), 5u);
  EXPECT_EQ(stream.events[3].id, "new-2");
}

TEST_F(journal_fixture, positions_are_gap_free_and_versions_count_per_stream) {
  std::mt19937 rng(42);
  std::map<std::string, uint64_t> versions;
  for (int b = 0; b < 200; ++b) {
    std::vector<storage::append_request> batch;
    int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      std::string stream = "s" + std::to_string(rng() % 13);
      // Roughly one append in four carries a stale expectation and fails.
      auto ev =
        rng() % 4 == 0 ? expected_version::exact(versions[stream] + 5) : expected_version::any();
      std::vector<storage::new_event> events;
      for (uint32_t k = 0, m = rng() % 4; k < m; ++k)
        events.push_back(event("t"));
      batch.push_back(append(stream, ev, std::move(events)));
    }
    auto results = journal->append(batch);
    for (size_t i = 0; i < batch.size(); ++i)
      if (results[i].status == append_status::ok)
        versions[batch[i].stream] = results[i].last_version;
  }
  auto all = reader().read_all(1, 1000000);
  ASSERT_EQ(all.size(), journal->head());
  std::map<std::string, uint64_t> seen;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].position, i + 1);
    ASSERT_EQ(all[i].version, ++seen[all[i].stream]) << all[i].stream;
  }
  for (const auto& [stream, v] : versions)
    EXPECT_EQ(seen[stream], v);
  // The writer's memory survives a reopen: versions continue, not restart.
  open();
  auto after = one(append("s0", expected_version::exact(versions["s0"]), {event("t")}));
  EXPECT_EQ(after.status, append_status::ok);
  EXPECT_EQ(after.first_position, all.size() + 1);
}

TEST_F(journal_fixture, payloads_are_stored_byte_for_byte) {
  std::string data("\x00\x01\xff\x92\xa3"
                   "abc\n",
                   9);
  std::string meta("\x81\xa4user\xa3"
                   "bob",
                   10);
  storage::new_event e{"t", "", meta, data};
  ASSERT_TRUE(one(append("s", expected_version::any(), {e})).succeeded());
  auto got = reader().read_all(1, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, data);
  EXPECT_EQ(got[0].meta, meta);
}

// A full disk fails the whole batch with a temporary error; nothing of it is
// written, and the journal works again once space returns.
TEST_F(journal_fixture, a_full_disk_fails_the_batch_and_recovers) {
  ASSERT_TRUE(one(append("s", expected_version::any(), {event("t")})).succeeded());
  journal->checkpoint();
  journal->limit_pages_for_testing(8);
  std::vector<storage::new_event> big;
  for (int i = 0; i < 50; ++i)
    big.push_back(event("t", std::string(4000, 'x')));
  std::vector<storage::append_request> batch;
  batch.push_back(append("a", expected_version::any(), {event("small")}));
  batch.push_back(append("s", expected_version::any(), std::move(big)));
  try {
    journal->append(batch);
    FAIL() << "the append should have failed";
  } catch (const storage::failure& f) {
    EXPECT_EQ(f.code(), storage::errc::io) << f.what();
    EXPECT_TRUE(storage::is_temporary(f.code()));
  }
  EXPECT_EQ(journal->head(), 1u);
  EXPECT_EQ(reader().read_all(1, 100).size(), 1u);
  EXPECT_EQ(reader().stream_version("a"), 0u);
  journal->limit_pages_for_testing(0);
  auto result = one(append("a", expected_version::no_stream(), {event("t")}));
  EXPECT_EQ(result.status, append_status::ok);
  EXPECT_EQ(result.first_position, 2u);
  EXPECT_EQ(reader().read_all(1, 100).size(), 2u);
}

// With background checkpoints the writer leaves the WAL alone (commits never
// pay for a checkpoint); the checkpointer copies it into the file on its own
// connection, after which the writer reuses the WAL instead of growing it.
TEST_F(journal_fixture, a_background_checkpointer_keeps_the_wal_bounded) {
  journal.reset();
  storage::journal_options o;
  o.path = path();
  o.background_checkpoints = true;
  journal = std::make_unique<storage::journal>(o);
  auto write_8_mib = [&] {
    for (int b = 0; b < 20; ++b) {
      std::vector<storage::new_event> events;
      for (int i = 0; i < 100; ++i)
        events.push_back(event("t", std::string(4000, 'x')));
      one(append("s", expected_version::any(), std::move(events)));
    }
  };
  auto wal_size = [&] { return std::filesystem::file_size(path() + "-wal"); };
  write_8_mib();
  auto grown = wal_size();
  EXPECT_GT(grown, 7u << 20) << "SQLite's 4 MiB autocheckpoint ran inside a commit";
  storage::journal_checkpointer checkpointer(path());
  EXPECT_GT(checkpointer.checkpoint(), 1900);
  write_8_mib();
  EXPECT_LE(wal_size(), grown + (1u << 20)) << "the WAL grew instead of being reused";
  EXPECT_EQ(reader().read_all(1, 5000).size(), 4000u);
}

} // namespace
} // namespace herald::test
