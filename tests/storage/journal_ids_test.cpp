// Client-supplied event ids in format 3: the ids of the events after the fold
// point are checked in memory and folded into `event_ids` in bulk. A stored
// id decides an append the same way wherever it sits (folded, in the tail,
// or written earlier in the same batch), across restarts, and a batch that
// rolls back leaves no id behind.
#include "storage/id_hash.hpp"
#include "tests/storage/journal_fixture.hpp"

namespace herald::test {
namespace {

using storage::append_status;
using storage::expected_version;

class ids_test : public journal_fixture {
protected:
  void SetUp() override {
    id_fold_events = 4;
    open();
  }

  /// An integer read from the journal file on a connection of its own.
  int64_t query(const std::string& sql) const {
    storage::database db(path(), storage::database::mode::read_only);
    return db.query_int(sql);
  }

  int64_t folded_ids() const {
    return query("SELECT count(*) FROM event_ids");
  }

  int64_t fold_point() const {
    return query("SELECT CAST(value AS INTEGER) FROM journal_meta "
                 "WHERE key = 'ids_indexed_through'");
  }

  /// Appends events with ids `ids` (data: the id) to `stream`, one append.
  storage::append_result put(const std::string& stream, std::vector<std::string> ids,
                             const std::string& data_prefix = "") {
    std::vector<storage::new_event> events;
    for (auto& id : ids)
      events.push_back(event("t", data_prefix + id, id));
    return one(append(stream, expected_version::any(), std::move(events)));
  }
};

TEST_F(ids_test, a_stored_id_decides_alike_on_either_side_of_a_fold) {
  ASSERT_EQ(put("s", {"a1", "a2", "a3"}).status, append_status::ok);
  EXPECT_EQ(folded_ids(), 0); // 3 events: below the threshold of 4
  ASSERT_EQ(put("s", {"a4", "a5"}).status, append_status::ok);
  EXPECT_EQ(folded_ids(), 5); // the batch that crossed it folded them all
  EXPECT_EQ(fold_point(), 5);
  ASSERT_EQ(put("s", {"b1"}).status, append_status::ok);
  EXPECT_EQ(folded_ids(), 5); // b1 is in the tail

  auto folded = put("s", {"a2", "a3"});
  EXPECT_EQ(folded.status, append_status::idempotent);
  EXPECT_EQ(folded.first_position, 2u);
  EXPECT_EQ(folded.last_version, 3u);
  auto tail = put("s", {"b1"});
  EXPECT_EQ(tail.status, append_status::idempotent);
  EXPECT_EQ(tail.first_position, 6u);
  // A retry that spans the fold point: a5 folded, b1 not.
  auto across = put("s", {"a5", "b1"});
  EXPECT_EQ(across.status, append_status::idempotent);
  EXPECT_EQ(across.first_position, 5u);
  EXPECT_EQ(across.last_position, 6u);

  EXPECT_EQ(put("s", {"a1"}, "other").status, append_status::duplicate_id);
  EXPECT_EQ(put("s", {"b1"}, "other").status, append_status::duplicate_id);
  EXPECT_EQ(put("s", {"a4", "b1"}).status, append_status::duplicate_id); // not consecutive
  EXPECT_EQ(put("s", {"new", "a1"}).status, append_status::duplicate_id);
  EXPECT_EQ(journal->head(), 6u);
  // Ids are scoped per stream, folded or not.
  EXPECT_EQ(put("other", {"a1", "b1"}).status, append_status::ok);
  EXPECT_EQ(journal->head(), 8u);
}

TEST_F(ids_test, ids_written_earlier_in_a_batch_are_seen_by_later_appends) {
  ASSERT_EQ(put("s", {"a1", "a2", "a3"}).status, append_status::ok);
  std::vector<storage::append_request> batch;
  batch.push_back(append("s", expected_version::any(), {event("t", "b1", "b1")}));
  batch.push_back(append("s", expected_version::any(), {event("t", "b2", "b2")})); // folds here
  batch.push_back(append("s", expected_version::any(), {event("t", "b1", "b1")}));
  batch.push_back(append("s", expected_version::any(), {event("t", "x", "b2")}));
  auto results = journal->append(batch);
  EXPECT_EQ(results[0].status, append_status::ok);
  EXPECT_EQ(results[1].status, append_status::ok);
  EXPECT_EQ(results[2].status, append_status::idempotent);
  EXPECT_EQ(results[2].first_position, 4u);
  EXPECT_EQ(results[3].status, append_status::duplicate_id);
  EXPECT_EQ(folded_ids(), 5);
  EXPECT_EQ(journal->head(), 5u);
}

// The tail lives in memory; a new writer rebuilds it from the events after
// the persisted fold point.
TEST_F(ids_test, unfolded_ids_are_rebuilt_when_the_journal_reopens) {
  ASSERT_EQ(put("s", {"a1", "a2", "a3", "a4"}).status, append_status::ok); // folded
  ASSERT_EQ(put("s", {"b1", "b2"}).status, append_status::ok);             // tail
  ASSERT_EQ(put("t", {"b1"}).status, append_status::ok);                   // tail
  ASSERT_EQ(fold_point(), 4);
  open();
  EXPECT_EQ(folded_ids(), 4);
  auto retry = put("s", {"b1", "b2"});
  EXPECT_EQ(retry.status, append_status::idempotent);
  EXPECT_EQ(retry.first_position, 5u);
  EXPECT_EQ(put("t", {"b1"}).status, append_status::idempotent);
  EXPECT_EQ(put("s", {"b2"}, "other").status, append_status::duplicate_id);
  EXPECT_EQ(put("s", {"a4"}).status, append_status::idempotent);
  EXPECT_EQ(journal->head(), 7u);
  // The rebuilt tail folds like any other.
  ASSERT_EQ(put("s", {"c1"}).status, append_status::ok);
  EXPECT_EQ(folded_ids(), 8);
  EXPECT_EQ(fold_point(), 8);
  open();
  EXPECT_EQ(put("t", {"b1"}).status, append_status::idempotent);
  EXPECT_EQ(put("s", {"c1"}).status, append_status::idempotent);
}

// A threshold changed between runs only changes when the next fold comes.
TEST_F(ids_test, a_larger_threshold_after_a_restart_keeps_every_id) {
  ASSERT_EQ(put("s", {"a1", "a2", "a3", "a4", "a5"}).status, append_status::ok);
  ASSERT_EQ(put("s", {"b1"}).status, append_status::ok);
  id_fold_events = 1000;
  open();
  ASSERT_EQ(put("s", {"c1", "c2", "c3", "c4", "c5"}).status, append_status::ok);
  EXPECT_EQ(folded_ids(), 5);
  EXPECT_EQ(put("s", {"a5", "b1", "c1"}).status, append_status::idempotent);
  journal->fold_index();
  EXPECT_EQ(folded_ids(), 11);
  EXPECT_EQ(fold_point(), 11);
  EXPECT_EQ(put("s", {"c5"}).status, append_status::idempotent);
}

// A batch that fails (here: the disk is full) takes its ids with it, from
// memory as from the file: they are free again afterwards.
TEST_F(ids_test, a_failed_batch_leaves_no_id_behind) {
  id_fold_events = 1000;
  open();
  ASSERT_EQ(put("s", {"a1"}).status, append_status::ok);
  journal->checkpoint();
  journal->limit_pages_for_testing(8);
  std::vector<storage::new_event> big;
  for (int i = 0; i < 50; ++i)
    big.push_back(event("t", std::string(4000, 'x'), "big" + std::to_string(i)));
  std::vector<storage::append_request> batch;
  batch.push_back(append("s", expected_version::any(), {event("t", "b1", "b1")}));
  batch.push_back(append("s", expected_version::any(), std::move(big)));
  EXPECT_THROW(journal->append(batch), storage::failure);
  journal->limit_pages_for_testing(0);
  auto again = put("s", {"b1"}, "other data");
  EXPECT_EQ(again.status, append_status::ok);
  EXPECT_EQ(again.first_position, 2u);
  EXPECT_EQ(put("s", {"big0"}, "small").status, append_status::ok);
}

// The key of an id is part of the format: SipHash-2-4 as published (the
// reference vector: key 00..0f, message 00..0e), of the stream id's eight
// little-endian bytes followed by the id.
TEST(id_hash_test, keys_are_siphash_2_4_of_the_stream_id_and_the_id) {
  const storage::id_hash_key key = storage::parse_id_hash_key("0706050403020100"
                                                              "0f0e0d0c0b0a0908");
  EXPECT_EQ(key[0], 0x0706050403020100u);
  EXPECT_EQ(static_cast<uint64_t>(storage::id_key(
              key, 0x0706050403020100, std::string_view("\x08\x09\x0a\x0b\x0c\x0d\x0e", 7))),
            0xa129ca6149be45e5u);
  EXPECT_NE(storage::id_key(key, 1, "x"), storage::id_key(key, 2, "x"));
  EXPECT_THROW(storage::parse_id_hash_key("not hex"), storage::failure);
}

// A batch due to fold that fails rolls back whole: the ids before it stay in
// the tail, its own are gone, and the next fold writes the tail.
TEST_F(ids_test, a_failed_batch_due_to_fold_keeps_the_tail) {
  ASSERT_EQ(put("s", {"a1", "a2", "a3"}).status, append_status::ok);
  journal->checkpoint();
  journal->limit_pages_for_testing(query("PRAGMA page_count"));
  std::vector<storage::new_event> big;
  for (int i = 0; i < 20; ++i)
    big.push_back(event("t", std::string(4000, 'x'), "big" + std::to_string(i)));
  EXPECT_THROW(one(append("s", expected_version::any(), std::move(big))), storage::failure);
  journal->limit_pages_for_testing(0);
  EXPECT_EQ(folded_ids(), 0);
  EXPECT_EQ(put("s", {"a3"}).status, append_status::idempotent);
  ASSERT_EQ(put("s", {"a4"}).status, append_status::ok);
  EXPECT_EQ(folded_ids(), 4);
  EXPECT_EQ(put("s", {"a1", "a2"}).status, append_status::idempotent);
  EXPECT_EQ(put("s", {"big0"}, "small").status, append_status::ok);
}

} // namespace
} // namespace herald::test
