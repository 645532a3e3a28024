// A stream processor's statement: the batch as the table `events`, read
// models attached read-only, only one read-only SELECT with channel and data
// accepted, and every derived row checked before anything is appended. The
// journal side: derived events and the processor's checkpoint commit
// together or not at all.
#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"
#include "storage/processor_sql.hpp"
#include "storage/read_model.hpp"
#include "tests/storage/journal_fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

config::projection_def users_projection() {
  config::projection_def def;
  def.name = "users";
  def.schema = "CREATE TABLE users (user TEXT PRIMARY KEY, display_name TEXT);";
  def.handlers.push_back({"users",
                          {"profile"},
                          "INSERT INTO users VALUES (:name, json_extract(:data, '$.display_name')) "
                          "ON CONFLICT (user) DO UPDATE SET display_name = excluded.display_name",
                          1,
                          false,
                          {}});
  return def;
}

config::processor_def mentions(std::string sql) {
  config::processor_def p;
  p.name = "mentions";
  p.namespaces = {"chat"};
  p.read_models = {"users"};
  p.wait_for = {"users"};
  p.sql = std::move(sql);
  return p;
}

const std::string mention_sql = R"(
SELECT 'inbox:' || m.value AS channel,
       json_object('room', e.name, 'author', e.data ->> '$.author',
                   'author_name', coalesce(u.display_name, e.data ->> '$.author'),
                   'text', e.data ->> '$.text', 'position', e.position) AS data,
       'mention' AS type, e.position AS source_position
FROM events AS e CROSS JOIN json_each(e.data, '$.mentions') AS m
LEFT JOIN users.users AS u ON u.user = e.data ->> '$.author'
WHERE e.type = 'message'
ORDER BY e.position, m.key)";

storage::recorded_event source(uint64_t position, std::string stream, std::string type,
                               const std::string& json, std::string meta = "") {
  storage::recorded_event e;
  e.position = position;
  e.stream = std::move(stream);
  e.version = position;
  e.type = std::move(type);
  e.id = "id-" + std::to_string(position);
  e.time = 1000 + static_cast<int64_t>(position);
  EXPECT_TRUE(storage::valid_json_to_msgpack(json, e.data));
  e.meta = std::move(meta);
  return e;
}

std::string validate(const std::string& sql) {
  return storage::processor_statement::validate(mentions(sql), {users_projection()});
}

TEST(processor_sql, accepts_one_read_only_select_over_events_and_its_read_models) {
  EXPECT_EQ(validate(mention_sql), "");
  EXPECT_EQ(validate("SELECT stream AS channel, data FROM events"), "");
}

TEST(processor_sql, refuses_what_is_not_one_read_only_select_with_channel_and_data) {
  auto refused = [](const std::string& sql, const std::string& why) {
    auto problem = validate(sql);
    EXPECT_NE(problem.find(why), std::string::npos) << sql << " -> " << problem;
  };
  refused("DELETE FROM users.users", "not authorized");
  refused("SELECT 'a' AS channel, '{}' AS data; SELECT 1", "exactly one SQL statement");
  refused("SELECT stream AS channel FROM events", "must return a column named data");
  refused("SELECT data FROM events", "must return a column named channel");
  refused("SELECT stream AS channel, data, 1 AS typo FROM events", "a column \"typo\"");
  refused("SELECT stream AS channel, data FROM events WHERE position > ?", "no parameters");
  refused("PRAGMA user_version", "not authorized");
  refused("ATTACH 'x.db' AS x", "not authorized");
  refused("BEGIN", "not authorized");
  refused("SELECT stream AS channel, data FROM nowhere", "no such table: nowhere");
  refused("", "SQL is empty");
  // A read model the processor does not list is not attached.
  auto other = mentions("SELECT 'a' AS channel, '{}' AS data FROM users.users");
  other.read_models.clear();
  EXPECT_NE(storage::processor_statement::validate(other, {users_projection()})
              .find("no such table: users.users"),
            std::string::npos);
}

class processor_run : public ::testing::Test {
protected:
  void SetUp() override {
    model = std::make_unique<storage::read_model>(dir.file("users.db"), users_projection());
    std::vector<storage::recorded_event> profile{
      source(1, "users:bob", "profile", R"({"type":"profile","display_name":"Bob B."})")};
    ASSERT_FALSE(model->apply(profile).failed);
  }

  temp_dir dir;
  std::unique_ptr<storage::read_model> model;
};

TEST_F(processor_run, one_statement_derives_every_row_of_the_batch_joined_with_a_read_model) {
  storage::processor_statement stmt(mentions(mention_sql));
  stmt.attach("users", dir.file("users.db"));
  std::vector<storage::recorded_event> batch{
    source(2, "chat:x", "message", R"({"author":"bob","text":"hi","mentions":["al","cy"]})"),
    source(3, "chat:x", "join", R"({"who":"al"})"),
    source(4, "chat:y", "message", R"({"author":"dee","text":"yo","mentions":["bob"]})"),
  };
  auto rows = stmt.run(batch, 100, 1s);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].channel, "inbox:al");
  EXPECT_EQ(rows[0].data, R"({"room":"x","author":"bob","author_name":"Bob B.","text":"hi",)"
                          R"("position":2})");
  EXPECT_EQ(rows[0].type, "mention");
  EXPECT_EQ(rows[0].source_position, 2u);
  EXPECT_EQ(rows[1].channel, "inbox:cy");
  EXPECT_EQ(rows[2].channel, "inbox:bob");
  // No profile: the author's own name.
  EXPECT_NE(rows[2].data.find(R"("author_name":"dee")"), std::string::npos);
  // The next batch sees new rows of the read model (no snapshot is held).
  std::vector<storage::recorded_event> profile{
    source(2, "users:dee", "profile", R"({"type":"profile","display_name":"Dee"})")};
  ASSERT_FALSE(model->apply(profile).failed);
  std::vector<storage::recorded_event> next{
    source(6, "chat:y", "message", R"({"author":"dee","text":"again","mentions":["bob"]})")};
  rows = stmt.run(next, 100, 1s);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].data.find(R"("author_name":"Dee")"), std::string::npos);
}

TEST_F(processor_run, the_events_table_has_every_field_projection_handlers_bind) {
  storage::event_meta m;
  m.user = "u1";
  m.client = "c1";
  m.correlation = "corr";
  m.causation = "cause";
  auto e = source(7, "chat:lobby", "message", R"({"a":[1,2]})", storage::encode_meta(m));
  storage::processor_statement stmt(mentions(
    "SELECT 'x' AS channel, json_array(stream, namespace, name, version, position, type, id, "
    "time, user, client, json(meta) ->> '$.user', json(data), correlation_id, causation_id) "
    "AS data FROM events"));
  stmt.attach("users", dir.file("users.db"));
  auto rows = stmt.run({e}, 10, 1s);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].data, R"(["chat:lobby","chat","lobby",7,7,"message","id-7",1007,"u1","c1",)"
                          R"("u1",{"a":[1,2]},"corr","cause"])");
}

TEST_F(processor_run, the_read_models_are_read_only_and_rows_past_max_outputs_fail_the_run) {
  storage::processor_statement stmt(mentions("SELECT stream AS channel, data FROM events"));
  stmt.attach("users", dir.file("users.db"));
  std::vector<storage::recorded_event> batch{source(1, "a:1", "t", "1"), source(2, "a:2", "t", "2"),
                                             source(3, "a:3", "t", "3")};
  EXPECT_EQ(stmt.run(batch, 3, 1s).size(), 3u);
  try {
    stmt.run(batch, 2, 1s);
    FAIL() << "more rows than max_outputs";
  } catch (const storage::failure& f) {
    EXPECT_NE(std::string(f.what()).find("processors.max_outputs"), std::string::npos);
  }
}

TEST_F(processor_run, a_runaway_statement_stops_at_the_timeout) {
  storage::processor_statement stmt(
    mentions("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
             "SELECT 'a' AS channel, '1' AS data FROM n WHERE i < 0"));
  try {
    stmt.run({}, 10, 50ms);
    FAIL() << "an endless statement returned";
  } catch (const storage::failure& f) {
    EXPECT_NE(std::string(f.what()).find("processors.timeout"), std::string::npos) << f.what();
  }
}

config::settings inbox_settings() {
  config::settings s;
  s.namespaces["inbox"].writers = {"mentions"};
  s.namespaces["chat"];
  s.namespaces["dm"].user_limited = true;
  s.namespaces["dm"].writers = {"mentions"};
  return s;
}

TEST(processor_rows, a_row_may_only_name_a_namespace_listing_the_processor_and_hold_json) {
  auto s = inbox_settings();
  auto check = [&](std::string channel, std::string data, bool text = true) {
    storage::derived_row r;
    r.channel = std::move(channel);
    r.data = std::move(data);
    r.data_is_text = text;
    return storage::check_derived_row(s, "mentions", r);
  };
  EXPECT_EQ(check("inbox:bob", R"({"a":1})"), "");
  EXPECT_EQ(check("inbox:bob", "\"text\""), "");
  EXPECT_NE(check("chat:x", "{}").find("does not list processor \"mentions\""), std::string::npos);
  EXPECT_NE(check("nowhere:x", "{}").find("in no configured namespace"), std::string::npos);
  EXPECT_NE(check("$inbox:bob", "{}").find("private"), std::string::npos);
  EXPECT_NE(check("dm:x#bob", "{}").find("user-limited"), std::string::npos);
  EXPECT_NE(check("", "{}").find("no channel"), std::string::npos);
  EXPECT_NE(check("inbox:bob", "{nope").find("not JSON"), std::string::npos);
  EXPECT_NE(check("inbox:bob", "{} {}").find("not JSON"), std::string::npos);
  EXPECT_NE(check("inbox:bob", "12", false).find("not JSON"), std::string::npos);
  EXPECT_NE(check("inbox:" + std::string(300, 'x'), "{}").find("max_name_length"),
            std::string::npos);
}

TEST(processor_rows, derived_events_name_their_source_and_keep_its_correlation) {
  storage::event_meta m;
  m.correlation = "req-1";
  auto e = source(9, "chat:x", "message", "{}", storage::encode_meta(m));
  auto meta = storage::decode_meta(storage::derived_meta("mentions", &e));
  EXPECT_EQ(meta.causation, "id-9");
  EXPECT_EQ(meta.correlation, "req-1");
  e.meta.clear();
  e.id.clear();
  meta = storage::decode_meta(storage::derived_meta("mentions", &e));
  EXPECT_EQ(meta.causation, "position:9");
  EXPECT_EQ(meta.correlation, "position:9");
  std::string json;
  ASSERT_TRUE(storage::msgpack_to_json(storage::derived_meta("mentions", &e), json));
  EXPECT_NE(json.find(R"("processor":"mentions")"), std::string::npos);
  // The audit fields every append path records, under the names REST returns.
  EXPECT_NE(json.find(R"("via":"processor")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("causation_id":"position:9")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("correlation_id":"position:9")"), std::string::npos) << json;
  EXPECT_EQ(storage::derived_event_id("mentions", 9, 2), "mentions-9-2");
  // Generation 0 keeps the ids of before rebuilds; later ones name theirs,
  // in the id and in the metadata.
  EXPECT_EQ(storage::derived_event_id("mentions", 0, 9, 2), "mentions-9-2");
  EXPECT_EQ(storage::derived_event_id("mentions", 3, 9, 2), "mentions-g3-9-2");
  EXPECT_EQ(json.find("generation"), std::string::npos) << json;
  ASSERT_TRUE(storage::msgpack_to_json(storage::derived_meta("mentions", &e, 3), json));
  EXPECT_NE(json.find(R"("generation":3)"), std::string::npos) << json;
  EXPECT_EQ(storage::decode_meta(storage::derived_meta("mentions", &e, 3)).generation, 3u);
}

// The journal: derived events and checkpoint in one transaction.
class processor_commit_test : public journal_fixture {
protected:
  storage::processor_commit commit(uint64_t from, uint64_t to,
                                   std::vector<storage::append_request> appends) {
    return {"mentions", from, to, std::move(appends)};
  }
};

TEST_F(processor_commit_test, moves_the_checkpoint_with_the_derived_events) {
  EXPECT_EQ(reader().processor_checkpoint("mentions"), 0u);
  std::vector<storage::append_request> out;
  out.push_back(append("inbox:bob", storage::expected_version::any(), {event("mention", "a")}));
  out.push_back(append("inbox:al", storage::expected_version::any(), {event("mention", "b")}));
  auto c = commit(0, 5, std::move(out));
  std::vector<storage::recorded_event> committed;
  auto r = journal->commit_processor(c, &committed);
  EXPECT_EQ(r.status, storage::processor_commit_status::ok);
  ASSERT_EQ(committed.size(), 2u);
  EXPECT_EQ(committed[0].stream, "inbox:bob");
  EXPECT_EQ(committed[1].position, 2u);
  EXPECT_EQ(reader().processor_checkpoint("mentions"), 5u);
  EXPECT_EQ(reader().processor_checkpoint("other"), 0u);
  // An empty output still moves the checkpoint.
  auto empty = commit(5, 9, {});
  EXPECT_EQ(journal->commit_processor(empty).status, storage::processor_commit_status::ok);
  EXPECT_EQ(reader().processor_checkpoint("mentions"), 9u);
}

TEST_F(processor_commit_test, a_stale_checkpoint_writes_nothing) {
  auto first = commit(0, 3, {});
  ASSERT_EQ(journal->commit_processor(first).status, storage::processor_commit_status::ok);
  std::vector<storage::append_request> out;
  out.push_back(append("inbox:bob", storage::expected_version::any(), {event("mention")}));
  auto stale = commit(0, 4, std::move(out));
  std::vector<storage::recorded_event> committed;
  auto r = journal->commit_processor(stale, &committed);
  EXPECT_EQ(r.status, storage::processor_commit_status::conflict);
  EXPECT_EQ(r.actual, 3u);
  EXPECT_TRUE(committed.empty());
  EXPECT_EQ(journal->head(), 0u);
  EXPECT_EQ(reader().processor_checkpoint("mentions"), 3u);
}

TEST_F(processor_commit_test, a_failing_append_undoes_the_others_and_the_checkpoint) {
  ASSERT_TRUE(
    one(append("inbox:al", storage::expected_version::any(), {event("mention", "x", "dup")}))
      .succeeded());
  std::vector<storage::append_request> out;
  out.push_back(append("inbox:bob", storage::expected_version::any(), {event("mention", "a")}));
  out.push_back(
    append("inbox:al", storage::expected_version::any(), {event("mention", "other data", "dup")}));
  auto c = commit(0, 7, std::move(out));
  std::vector<storage::recorded_event> committed;
  auto r = journal->commit_processor(c, &committed);
  EXPECT_EQ(r.status, storage::processor_commit_status::rejected);
  EXPECT_NE(r.message.find("inbox:al"), std::string::npos);
  EXPECT_TRUE(committed.empty());
  EXPECT_EQ(journal->head(), 1u);
  EXPECT_EQ(reader().stream_version("inbox:bob"), 0u);
  EXPECT_EQ(reader().processor_checkpoint("mentions"), 0u);
  // The journal goes on: the next commit writes at the next position.
  std::vector<storage::append_request> again;
  again.push_back(append("inbox:bob", storage::expected_version::any(), {event("mention", "a")}));
  auto retry = commit(0, 7, std::move(again));
  ASSERT_EQ(journal->commit_processor(retry, &committed).status,
            storage::processor_commit_status::ok);
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(committed[0].position, 2u);
  EXPECT_EQ(committed[0].version, 1u);
}

// A rebuild: the next generation and the checkpoint before its start, in one
// transaction, whatever the checkpoint was; output of the old generation is
// then refused, so nothing of it lands after the rebuild.
TEST_F(processor_commit_test, a_rebuild_moves_the_generation_and_the_checkpoint_back) {
  std::vector<storage::append_request> out;
  out.push_back(append("inbox:bob", storage::expected_version::any(),
                       {event("mention", "a", storage::derived_event_id("mentions", 0, 1, 0))}));
  auto first = commit(0, 8, std::move(out));
  ASSERT_EQ(journal->commit_processor(first).status, storage::processor_commit_status::ok);
  EXPECT_EQ(reader().processor_generation("mentions"), 0u);
  storage::processor_commit rebuild{"mentions", 8, 2, {}, 0, true};
  auto r = journal->commit_processor(rebuild);
  EXPECT_EQ(r.status, storage::processor_commit_status::ok);
  EXPECT_EQ(r.generation, 1u);
  EXPECT_EQ(r.actual, 2u);
  EXPECT_EQ(reader().processor_checkpoint("mentions"), 2u);
  EXPECT_EQ(reader().processor_generation("mentions"), 1u);
  EXPECT_EQ(journal->head(), 1u); // a rebuild writes no event
  // A commit of generation 0 (derived before the rebuild) is refused...
  std::vector<storage::append_request> stale_out;
  stale_out.push_back(append("inbox:bob", storage::expected_version::any(), {event("mention")}));
  auto stale = commit(2, 9, std::move(stale_out));
  auto refused = journal->commit_processor(stale);
  EXPECT_EQ(refused.status, storage::processor_commit_status::conflict);
  EXPECT_EQ(refused.generation, 1u);
  EXPECT_EQ(journal->head(), 1u);
  // ...one of generation 1 goes on from the rebuild's checkpoint, with new ids
  // for the same source event.
  std::vector<storage::append_request> again;
  again.push_back(append("inbox:bob", storage::expected_version::any(),
                         {event("mention", "a", storage::derived_event_id("mentions", 1, 1, 0))}));
  storage::processor_commit next{"mentions", 2, 9, std::move(again), 1};
  std::vector<storage::recorded_event> committed;
  ASSERT_EQ(journal->commit_processor(next, &committed).status,
            storage::processor_commit_status::ok);
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(committed[0].id, "mentions-g1-1-0");
  EXPECT_EQ(committed[0].version, 2u);
  EXPECT_EQ(reader().processor_checkpoint("mentions"), 9u);
  EXPECT_EQ(reader().processor_generation("mentions"), 1u);
}

TEST_F(processor_commit_test, a_rebuild_of_a_stale_generation_or_with_events_writes_nothing) {
  storage::processor_commit rebuild{"mentions", 0, 0, {}, 0, true};
  ASSERT_EQ(journal->commit_processor(rebuild).status, storage::processor_commit_status::ok);
  storage::processor_commit again{"mentions", 0, 0, {}, 0, true}; // generation 0 is gone
  auto r = journal->commit_processor(again);
  EXPECT_EQ(r.status, storage::processor_commit_status::conflict);
  EXPECT_EQ(r.generation, 1u);
  std::vector<storage::append_request> out;
  out.push_back(append("inbox:bob", storage::expected_version::any(), {event("mention")}));
  storage::processor_commit with_events{"mentions", 0, 0, std::move(out), 1, true};
  EXPECT_EQ(journal->commit_processor(with_events).status,
            storage::processor_commit_status::rejected);
  EXPECT_EQ(journal->head(), 0u);
  EXPECT_EQ(reader().processor_generation("mentions"), 1u);
}

} // namespace
} // namespace herald::test
