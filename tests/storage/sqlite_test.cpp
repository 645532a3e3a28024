// The guards of storage/sqlite.hpp: a transaction commits only when told to
// and rolls back on every other way out; a cursor leaves its statement reset
// with no bindings however its scope ends; misuse (nesting) fails loudly.
#include "storage/sqlite.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace herald::test {
namespace {

using storage::database;
using storage::statement;
using storage::transaction;

/// A database with one table t (k, v).
database& with_table(database& db) {
  db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
  return db;
}

class sqlite_guards : public ::testing::Test {
protected:
  int64_t count() const {
    return db.query_int("SELECT count(*) FROM t");
  }

  void insert(int64_t k) {
    insert_stmt.use().bind(1, k).bind(2, std::string_view("x")).run();
  }

  temp_dir dir;
  database db{dir.file("t.db"), database::mode::read_write_create};
  statement insert_stmt = with_table(db).prepare("INSERT INTO t (k, v) VALUES (?1, ?2)");
};

TEST_F(sqlite_guards, a_committed_transaction_keeps_its_changes) {
  {
    transaction tx(db, transaction::kind::immediate);
    EXPECT_TRUE(db.in_transaction());
    insert(1);
    insert(2);
    tx.commit();
    EXPECT_FALSE(db.in_transaction());
  }
  EXPECT_EQ(count(), 2);
}

TEST_F(sqlite_guards, a_transaction_left_by_an_exception_rolls_back) {
  insert(1);
  try {
    transaction tx(db, transaction::kind::immediate);
    insert(2);
    throw std::runtime_error("the caller gives up");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(count(), 1);
  // The connection is usable again: the next transaction starts and commits.
  transaction tx(db);
  insert(3);
  tx.commit();
  EXPECT_EQ(count(), 2);
}

TEST_F(sqlite_guards, a_failing_statement_inside_rolls_back_everything) {
  try {
    transaction tx(db, transaction::kind::immediate);
    insert(1);
    insert(1); // primary key taken
    tx.commit();
    ADD_FAILURE() << "a duplicate key was inserted";
  } catch (const storage::failure&) {
  }
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(count(), 0);
}

TEST_F(sqlite_guards, a_transaction_sqlite_already_ended_is_left_alone) {
  EXPECT_NO_THROW({
    transaction tx(db);
    insert(1);
    db.exec("ROLLBACK"); // as SQLite does by itself on some I/O errors
  });
  EXPECT_EQ(count(), 0);
}

TEST_F(sqlite_guards, a_nested_transaction_is_refused_clearly) {
  transaction outer(db, transaction::kind::immediate);
  insert(1);
  try {
    transaction inner(db);
    ADD_FAILURE() << "a nested transaction began";
  } catch (const storage::failure& f) {
    EXPECT_EQ(f.code(), storage::errc::internal);
    EXPECT_NE(std::string(f.what()).find("already open"), std::string::npos) << f.what();
  }
  // The refused one did not end the outer one.
  EXPECT_TRUE(db.in_transaction());
  outer.commit();
  EXPECT_EQ(count(), 1);
}

TEST_F(sqlite_guards, committing_twice_is_refused_clearly) {
  transaction tx(db);
  insert(1);
  tx.commit();
  try {
    tx.commit();
    ADD_FAILURE() << "committed twice";
  } catch (const storage::failure& f) {
    EXPECT_EQ(f.code(), storage::errc::internal);
    EXPECT_NE(std::string(f.what()).find("already committed"), std::string::npos) << f.what();
  }
}

/// Reads the first row of `select` at or above `k` and returns early, with
/// more rows pending.
std::string first_at_or_above(statement& select, int64_t k) {
  auto rows = select.use();
  rows.bind(1, k);
  if (rows.step())
    return std::string(rows.column_text(0));
  return "";
}

TEST_F(sqlite_guards, a_statement_left_early_starts_fresh_on_its_next_use) {
  for (int64_t k = 1; k <= 3; ++k)
    insert(k);
  auto select = db.prepare("SELECT k FROM t WHERE ?1 IS NULL OR k >= ?1 ORDER BY k");
  EXPECT_EQ(first_at_or_above(select, 2), "2");
  // Not reset, the statement would go on from row 3; with the binding kept,
  // it would still filter on 2. Fresh, it starts over with ?1 NULL.
  auto rows = select.use();
  ASSERT_TRUE(rows.step());
  EXPECT_EQ(rows.column_int(0), 1);
}

TEST_F(sqlite_guards, a_statement_left_by_an_exception_starts_fresh_on_its_next_use) {
  for (int64_t k = 1; k <= 3; ++k)
    insert(k);
  auto select = db.prepare("SELECT k FROM t WHERE ?1 IS NULL OR k >= ?1 ORDER BY k");
  try {
    auto rows = select.use();
    rows.bind(1, int64_t{3});
    ASSERT_TRUE(rows.step());
    throw std::runtime_error("the caller gives up mid-read");
  } catch (const std::runtime_error&) {
  }
  // Nothing was left in progress: a statement in progress would keep this
  // from running.
  EXPECT_NO_THROW(db.exec("VACUUM"));
  auto rows = select.use();
  ASSERT_TRUE(rows.step());
  EXPECT_EQ(rows.column_int(0), 1);
}

TEST_F(sqlite_guards, a_second_use_of_a_statement_in_use_is_refused_clearly) {
  auto select = db.prepare("SELECT k FROM t");
  auto first = select.use();
  try {
    auto second = select.use();
    ADD_FAILURE() << "two cursors on one statement";
  } catch (const storage::failure& f) {
    EXPECT_EQ(f.code(), storage::errc::internal);
    EXPECT_NE(std::string(f.what()).find("SELECT k FROM t"), std::string::npos) << f.what();
    EXPECT_NE(std::string(f.what()).find("already in use"), std::string::npos) << f.what();
  }
}

} // namespace
} // namespace herald::test
