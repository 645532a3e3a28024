// A read model whose write transaction cannot start (another connection holds
// the file's write lock past the busy timeout) fails with a temporary error
// and leaves nothing in progress on its connection: a snapshot still works
// meanwhile, and once the lock is gone the same events apply.
#include "storage/read_model.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

namespace herald::test {
namespace {

config::projection_def positions() {
  config::projection_def def{"p", "CREATE TABLE t (position INTEGER PRIMARY KEY);", {}, 1, {}};
  def.handlers.push_back({"", {}, "INSERT INTO t VALUES (:position)", 2, false, {}});
  return def;
}

std::vector<storage::event_view> events(uint64_t from, uint64_t to) {
  std::vector<storage::event_view> out;
  for (uint64_t p = from; p <= to; ++p)
    out.push_back({p, "s", p, "t", "", 0, "", ""});
  return out;
}

TEST(read_model, a_transaction_that_cannot_start_leaves_nothing_in_progress) {
  temp_dir dir;
  storage::read_model model(dir.file("p.db"), positions());
  ASSERT_EQ(model.apply(events(1, 3)).checkpoint, 3u);
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("p.db").c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  try {
    model.apply(events(4, 5));
    ADD_FAILURE() << "applied while another connection held the write lock";
  } catch (const storage::failure& f) {
    EXPECT_TRUE(storage::is_temporary(f.code())) << f.what();
  }
  EXPECT_EQ(model.checkpoint(), 3u);
  // VACUUM INTO refuses while any statement of the connection is in progress.
  EXPECT_NO_THROW(model.copy_to(dir.file("snap.db")));
  EXPECT_EQ(storage::read_label(dir.file("snap.db"), true).checkpoint, 3u);
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  EXPECT_EQ(model.apply(events(4, 5)).checkpoint, 5u);
}

config::projection_def names(bool include_private) {
  config::projection_def def{
    "n", "CREATE TABLE t (name TEXT PRIMARY KEY, private INTEGER, stream TEXT);", {}, 1, {}};
  def.handlers.push_back(
    {"chat", {}, "INSERT INTO t VALUES (:name, :private, :stream)", 2, include_private, {}});
  return def;
}

std::vector<std::vector<std::string>> rows(const std::string& path) {
  storage::database db(path, storage::database::mode::read_only);
  auto select = db.prepare("SELECT name, private, stream FROM t ORDER BY name");
  auto q = select.use();
  std::vector<std::vector<std::string>> out;
  while (q.step())
    out.push_back({std::string(q.column_text(0)), std::to_string(q.column_int(1)),
                   std::string(q.column_text(2))});
  return out;
}

// $chat:x and chat:x never bind the same :name, and private channels reach
// only handlers that ask for them.
TEST(read_model, private_channels_are_kept_apart_and_out_unless_asked_for) {
  temp_dir dir;
  std::vector<storage::event_view> evs{{1, "$chat:x", 1, "m", "", 0, "", ""},
                                       {2, "chat:x", 1, "m", "", 0, "", ""}};
  {
    storage::read_model open(dir.file("public.db"), names(false));
    auto r = open.apply(evs);
    EXPECT_FALSE(r.failed) << r.error;
    EXPECT_EQ(r.checkpoint, 2u);
  }
  EXPECT_EQ(rows(dir.file("public.db")),
            (std::vector<std::vector<std::string>>{{"x", "0", "chat:x"}}));
  {
    storage::read_model all(dir.file("all.db"), names(true));
    auto r = all.apply(evs);
    EXPECT_FALSE(r.failed) << r.error;
  }
  EXPECT_EQ(rows(dir.file("all.db")),
            (std::vector<std::vector<std::string>>{{"$x", "1", "$chat:x"}, {"x", "0", "chat:x"}}));
  // Asking for private channels is part of the definition.
  EXPECT_NE(storage::read_model::fingerprint(names(false)),
            storage::read_model::fingerprint(names(true)));
}

} // namespace
} // namespace herald::test
