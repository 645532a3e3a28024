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
  config::projection_def def{"p", "CREATE TABLE t (position INTEGER PRIMARY KEY);", {}, 1};
  def.handlers.push_back({"", {}, "INSERT INTO t VALUES (:position)", 2});
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

} // namespace
} // namespace herald::test
