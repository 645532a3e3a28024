// Upgrading journals written by an older herald: the writer migrates a file
// of an older format on open, keeping every event, and the result is the same
// file a new journal would be. Readers read older formats as they are.
#include "storage/journal_format.hpp"
#include "tests/storage/journal_fixture.hpp"

#include <sqlite3.h>

#include <filesystem>

namespace herald::test {
namespace {

using storage::append_status;
using storage::expected_version;

/// Runs `text` on the SQLite file at `path` with a plain connection.
void sql(const std::string& path, const std::string& text) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err);
  std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

/// Column `col` of the rows of `query`, joined by newlines.
std::string column(const std::string& path, const std::string& query, int col = 0) {
  storage::database db(path, storage::database::mode::read_only);
  auto select = db.prepare(query);
  auto rows = select.use();
  std::string out;
  while (rows.step())
    out += std::string(rows.column_text(col)) + "\n";
  return out;
}

/// A journal exactly as herald with format 1 wrote it (its schema, frozen
/// here): stream `a` holds ids x and y, stream `b` holds z, and position 4 has
/// no client id. Payloads are msgpack strings.
constexpr const char* format_1_journal = R"sql(
PRAGMA journal_mode = WAL;
BEGIN;
CREATE TABLE journal_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE streams (
  stream_id INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE
);
CREATE TABLE events (
  position  INTEGER PRIMARY KEY,
  stream_id INTEGER NOT NULL,
  version   INTEGER NOT NULL,
  type      TEXT NOT NULL,
  id        TEXT,
  time      INTEGER NOT NULL,
  meta      BLOB NOT NULL,
  data      BLOB NOT NULL
);
CREATE UNIQUE INDEX events_by_id ON events (id) WHERE id IS NOT NULL;
CREATE TABLE stream_chunks (
  stream_id     INTEGER NOT NULL,
  first_version INTEGER NOT NULL,
  last_version  INTEGER NOT NULL,
  positions     BLOB NOT NULL,
  PRIMARY KEY (stream_id, first_version)
) WITHOUT ROWID;
INSERT INTO journal_meta (key, value) VALUES ('indexed_through', '0');
INSERT INTO journal_meta (key, value) VALUES ('journal_id', '0b5c2a1e-7d3f-4e21-9a6b-2c4d5e6f7a8b');
INSERT INTO streams (stream_id, name) VALUES (1, 'a'), (2, 'b');
INSERT INTO events VALUES (1, 1, 1, 'paid', 'x', 1700000000000, x'', x'a131');
INSERT INTO events VALUES (2, 1, 2, 'paid', 'y', 1700000000001, x'', x'a132');
INSERT INTO events VALUES (3, 2, 1, 'paid', 'z', 1700000000002, x'', x'a133');
INSERT INTO events VALUES (4, 2, 2, 'note', NULL, 1700000000003, x'', x'a134');
PRAGMA application_id = 1752329316;
PRAGMA user_version = 1;
COMMIT;
)sql";

/// The journal fixture, but starting from a format-1 file written by SQL;
/// `open()` opens (and so upgrades) it.
class migration_test : public journal_fixture {
protected:
  void SetUp() override {
    sql(path(), format_1_journal);
    ASSERT_EQ(storage::journal_format::application_id, 1752329316);
  }
};

TEST_F(migration_test, a_reader_reads_a_format_1_journal_as_it_is) {
  storage::journal_reader r(path());
  EXPECT_EQ(r.read_all(1, 100).size(), 4u);
  EXPECT_EQ(column(path(), "PRAGMA user_version"), "1\n");
}

TEST_F(migration_test, the_writer_upgrades_a_format_1_journal_keeping_everything) {
  open();
  EXPECT_EQ(journal->id(), "0b5c2a1e-7d3f-4e21-9a6b-2c4d5e6f7a8b");
  EXPECT_EQ(journal->head(), 4u);
  EXPECT_EQ(column(path(), "PRAGMA user_version"),
            std::to_string(storage::journal_format::version) + "\n");
  auto all = storage::journal_reader(path()).read_all(1, 100);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].id, "y");
  EXPECT_EQ(all[1].data, "\xa1"
                         "2");
  EXPECT_EQ(all[3].stream, "b");
  // Stored ids keep their events: a retry is idempotent, other content not.
  auto retry = one(append("a", expected_version::any(),
                          {event("paid",
                                 "\xa1"
                                 "1",
                                 "x"),
                           event("paid",
                                 "\xa1"
                                 "2",
                                 "y")}));
  EXPECT_EQ(retry.status, append_status::idempotent);
  EXPECT_EQ(retry.first_position, 1u);
  auto other = one(append("a", expected_version::any(), {event("paid", "other", "x")}));
  EXPECT_EQ(other.status, append_status::duplicate_id);
  // And they are now scoped per stream.
  auto elsewhere = one(append("b", expected_version::any(),
                              {event("paid",
                                     "\xa1"
                                     "1",
                                     "x")}));
  EXPECT_EQ(elsewhere.status, append_status::ok);
  EXPECT_EQ(elsewhere.first_position, 5u);
  EXPECT_EQ(elsewhere.first_version, 3u);
}

// The upgraded file is indistinguishable from a journal created by this
// herald: same tables, same indexes, same definitions.
TEST_F(migration_test, an_upgraded_journal_has_the_schema_of_a_new_one) {
  open();
  journal.reset();
  const std::string fresh = dir.file("fresh.db");
  {
    storage::journal_options o;
    o.path = fresh;
    storage::journal j(o);
  }
  const std::string schema = "SELECT type || ' ' || name || ': ' || ifnull(sql, '') "
                             "FROM sqlite_schema ORDER BY name";
  EXPECT_EQ(column(path(), schema), column(fresh, schema));
  EXPECT_NE(column(path(), schema).find("event_ids"), std::string::npos);
  EXPECT_EQ(column(path(), schema).find("events_by_stream_id"), std::string::npos);
  // Reopening an upgraded journal changes nothing more.
  open();
  EXPECT_EQ(journal->head(), 4u);
}

// The id index is what makes a retry cheap: the lookup must use it, not scan.
TEST_F(migration_test, an_upgraded_journal_looks_ids_up_through_the_index) {
  open();
  journal.reset();
  auto plan =
    column(path(),
           "EXPLAIN QUERY PLAN SELECT i.position FROM event_ids i JOIN events e "
           "ON e.position = i.position WHERE i.key = 7 AND e.stream_id = 1 AND e.id = 'x'",
           3); // the plan's detail column
  EXPECT_NE(plan.find("SEARCH i USING PRIMARY KEY (key=?)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"), std::string::npos) << plan;
}

// A migration that cannot run leaves the file at its old format, whole, and
// says so.
TEST_F(migration_test, a_failed_upgrade_leaves_the_journal_at_its_format) {
  sql(path(), "DROP INDEX events_by_id"); // damaged: the index format 1 had is gone
  try {
    open();
    FAIL() << "the upgrade did not fail";
  } catch (const storage::failure& f) {
    EXPECT_NE(std::string(f.what()).find("upgrading the journal from format 1 to 2"),
              std::string::npos)
      << f.what();
    EXPECT_NE(std::string(f.what()).find(path()), std::string::npos) << f.what();
  }
  EXPECT_EQ(column(path(), "PRAGMA user_version"), "1\n");
  EXPECT_EQ(storage::journal_reader(path()).read_all(1, 100).size(), 4u);
}

/// A journal exactly as herald with format 2 wrote it (its schema, frozen
/// here): ids unique per stream through an index on events. Stream `a` holds
/// ids x and y, stream `b` holds x and z, and position 5 has no client id.
constexpr const char* format_2_journal = R"sql(
PRAGMA journal_mode = WAL;
BEGIN;
CREATE TABLE journal_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE streams (
  stream_id INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE
);
CREATE TABLE events (
  position  INTEGER PRIMARY KEY,
  stream_id INTEGER NOT NULL,
  version   INTEGER NOT NULL,
  type      TEXT NOT NULL,
  id        TEXT,
  time      INTEGER NOT NULL,
  meta      BLOB NOT NULL,
  data      BLOB NOT NULL
);
CREATE UNIQUE INDEX events_by_stream_id ON events (stream_id, id) WHERE id IS NOT NULL;
CREATE TABLE stream_chunks (
  stream_id     INTEGER NOT NULL,
  first_version INTEGER NOT NULL,
  last_version  INTEGER NOT NULL,
  positions     BLOB NOT NULL,
  PRIMARY KEY (stream_id, first_version)
) WITHOUT ROWID;
INSERT INTO journal_meta (key, value) VALUES ('indexed_through', '0');
INSERT INTO journal_meta (key, value) VALUES ('journal_id', '0b5c2a1e-7d3f-4e21-9a6b-2c4d5e6f7a8b');
INSERT INTO streams (stream_id, name) VALUES (1, 'a'), (2, 'b');
INSERT INTO events VALUES (1, 1, 1, 'paid', 'x', 1700000000000, x'', x'a131');
INSERT INTO events VALUES (2, 1, 2, 'paid', 'y', 1700000000001, x'', x'a132');
INSERT INTO events VALUES (3, 2, 1, 'paid', 'z', 1700000000002, x'', x'a133');
INSERT INTO events VALUES (4, 2, 2, 'paid', 'x', 1700000000003, x'', x'a134');
INSERT INTO events VALUES (5, 2, 3, 'note', NULL, 1700000000004, x'', x'a135');
PRAGMA application_id = 1752329316;
PRAGMA user_version = 2;
COMMIT;
)sql";

class migration_2_test : public journal_fixture {
protected:
  void SetUp() override {
    sql(path(), format_2_journal);
  }
};

// Every stored id moves into event_ids, folded: the upgraded writer finds
// them there with no tail to rebuild.
TEST_F(migration_2_test, the_writer_moves_the_ids_of_a_format_2_journal_into_the_id_table) {
  open();
  EXPECT_EQ(journal->head(), 5u);
  EXPECT_EQ(column(path(), "PRAGMA user_version"),
            std::to_string(storage::journal_format::version) + "\n");
  EXPECT_EQ(column(path(), "SELECT position FROM event_ids ORDER BY position"), "1\n2\n3\n4\n");
  EXPECT_EQ(column(path(), "SELECT length(value) FROM journal_meta WHERE key = 'id_hash_key'"),
            "32\n");
  EXPECT_EQ(column(path(), "SELECT value FROM journal_meta WHERE key = 'ids_indexed_through'"),
            "5\n");
  auto retry = one(append("a", expected_version::any(),
                          {event("paid",
                                 "\xa1"
                                 "1",
                                 "x"),
                           event("paid",
                                 "\xa1"
                                 "2",
                                 "y")}));
  EXPECT_EQ(retry.status, append_status::idempotent);
  EXPECT_EQ(retry.first_position, 1u);
  auto in_b = one(append("b", expected_version::any(),
                         {event("paid",
                                "\xa1"
                                "4",
                                "x")}));
  EXPECT_EQ(in_b.status, append_status::idempotent);
  EXPECT_EQ(in_b.first_position, 4u);
  EXPECT_EQ(one(append("a", expected_version::any(), {event("paid", "other", "y")})).status,
            append_status::duplicate_id);
  auto fresh = one(append("a", expected_version::any(), {event("paid", "new", "z")}));
  EXPECT_EQ(fresh.status, append_status::ok);
  EXPECT_EQ(fresh.first_position, 6u);
  open();
  EXPECT_EQ(one(append("a", expected_version::any(), {event("paid", "new", "z")})).status,
            append_status::idempotent);
}

TEST_F(migration_2_test, an_upgraded_format_2_journal_has_the_schema_of_a_new_one) {
  open();
  journal.reset();
  const std::string fresh = dir.file("fresh.db");
  {
    storage::journal_options o;
    o.path = fresh;
    storage::journal j(o);
  }
  const std::string schema = "SELECT type || ' ' || name || ': ' || ifnull(sql, '') "
                             "FROM sqlite_schema ORDER BY name";
  EXPECT_EQ(column(path(), schema), column(fresh, schema));
  const std::string keys = "SELECT key FROM journal_meta ORDER BY key";
  EXPECT_EQ(column(path(), keys), column(fresh, keys));
}

TEST_F(migration_2_test, a_failed_upgrade_leaves_the_journal_at_format_2) {
  sql(path(), "DROP INDEX events_by_stream_id"); // damaged: the index format 2 had is gone
  try {
    open();
    FAIL() << "the upgrade did not fail";
  } catch (const storage::failure& f) {
    EXPECT_NE(std::string(f.what()).find("upgrading the journal from format 2 to 3"),
              std::string::npos)
      << f.what();
  }
  EXPECT_EQ(column(path(), "PRAGMA user_version"), "2\n");
  EXPECT_EQ(column(path(), "SELECT count(*) FROM sqlite_schema WHERE name = 'event_ids'"), "0\n");
  EXPECT_EQ(storage::journal_reader(path()).read_all(1, 100).size(), 5u);
}

/// A journal exactly as herald with format 4 wrote it (its schema, frozen
/// here): two processors with checkpoints, no generations yet. Stream
/// `inbox:bob` holds a derived event with its generation-0 id.
constexpr const char* format_4_journal = R"sql(
PRAGMA journal_mode = WAL;
BEGIN;
CREATE TABLE journal_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE streams (
  stream_id INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE
);
CREATE TABLE events (
  position  INTEGER PRIMARY KEY,
  stream_id INTEGER NOT NULL,
  version   INTEGER NOT NULL,
  type      TEXT NOT NULL,
  id        TEXT,
  time      INTEGER NOT NULL,
  meta      BLOB NOT NULL,
  data      BLOB NOT NULL
);
CREATE TABLE event_ids (
  key      INTEGER NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (key, position)
) WITHOUT ROWID;
CREATE TABLE stream_chunks (
  stream_id     INTEGER NOT NULL,
  first_version INTEGER NOT NULL,
  last_version  INTEGER NOT NULL,
  positions     BLOB NOT NULL,
  PRIMARY KEY (stream_id, first_version)
) WITHOUT ROWID;
CREATE TABLE processor_checkpoints (
  name     TEXT PRIMARY KEY,
  position INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO journal_meta (key, value) VALUES ('indexed_through', '0');
INSERT INTO journal_meta (key, value) VALUES ('ids_indexed_through', '0');
INSERT INTO journal_meta (key, value) VALUES ('id_hash_key', '00112233445566778899aabbccddeeff');
INSERT INTO journal_meta (key, value) VALUES ('journal_id', '0b5c2a1e-7d3f-4e21-9a6b-2c4d5e6f7a8b');
INSERT INTO streams (stream_id, name) VALUES (1, 'chat:r'), (2, 'inbox:bob');
INSERT INTO events VALUES (1, 1, 1, 'message', NULL, 1700000000000, x'', x'a131');
INSERT INTO events VALUES (2, 2, 1, 'mention', 'mentions-1-0', 1700000000001, x'', x'a132');
INSERT INTO processor_checkpoints VALUES ('mentions', 1), ('echo', 2);
PRAGMA application_id = 1752329316;
PRAGMA user_version = 4;
COMMIT;
)sql";

class migration_4_test : public journal_fixture {
protected:
  void SetUp() override {
    sql(path(), format_4_journal);
  }
};

TEST_F(migration_4_test,
       a_format_4_journal_opens_as_format_5_with_its_checkpoints_at_generation_0) {
  EXPECT_EQ(storage::journal_reader(path()).processor_generation("mentions"), 0u); // as it is
  open();
  EXPECT_EQ(column(path(), "PRAGMA user_version"), "5\n");
  EXPECT_EQ(storage::journal_format::version, 5);
  EXPECT_EQ(column(path(), "SELECT name || ' ' || position || ' ' || generation "
                           "FROM processor_checkpoints ORDER BY name"),
            "echo 2 0\nmentions 1 0\n");
  auto r = reader();
  EXPECT_EQ(r.processor_checkpoint("mentions"), 1u);
  EXPECT_EQ(r.processor_checkpoint("echo"), 2u);
  EXPECT_EQ(r.processor_generation("mentions"), 0u);
  EXPECT_EQ(r.read_all(1, 10).at(1).id, "mentions-1-0");
  // The processor goes on from its checkpoint in generation 0...
  storage::processor_commit next{"mentions", 1, 2, {}, 0};
  EXPECT_EQ(journal->commit_processor(next).status, storage::processor_commit_status::ok);
  // ...and can be rebuilt.
  storage::processor_commit rebuild{"mentions", 2, 0, {}, 0, true};
  auto done = journal->commit_processor(rebuild);
  EXPECT_EQ(done.status, storage::processor_commit_status::ok);
  EXPECT_EQ(done.generation, 1u);
  EXPECT_EQ(reader().processor_generation("mentions"), 1u);
}

TEST_F(migration_4_test, an_upgraded_format_4_journal_has_the_schema_of_a_new_one) {
  open();
  journal.reset();
  const std::string fresh = dir.file("fresh.db");
  {
    storage::journal_options o;
    o.path = fresh;
    storage::journal j(o);
  }
  const std::string schema = "SELECT type || ' ' || name || ': ' || ifnull(sql, '') "
                             "FROM sqlite_schema ORDER BY name";
  EXPECT_EQ(column(path(), schema), column(fresh, schema));
  EXPECT_NE(column(path(), schema).find("generation INTEGER NOT NULL DEFAULT 0"),
            std::string::npos);
  EXPECT_EQ(column(path(), schema).find("processor_checkpoints_4"), std::string::npos);
}

} // namespace
} // namespace herald::test
