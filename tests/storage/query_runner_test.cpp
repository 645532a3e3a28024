// query_runner returns rows typed as SQLite holds them (NULL, INTEGER, REAL,
// TEXT, BLOB) with their column names and the checkpoint they reflect, and
// refuses bad parameters with a result that says why, not an exception;
// the next query on the same runner is unaffected.
#include "storage/query_runner.hpp"
#include "storage/read_model.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::test {
namespace {

using storage::blob;
using storage::column_value;
using storage::query_error;

config::projection_def kinds() {
  config::projection_def def{
    "p", "CREATE TABLE t (k INTEGER PRIMARY KEY, r REAL, s TEXT, b BLOB, n);", {}, 1, {}};
  def.handlers.push_back(
    {"",
     {},
     "INSERT INTO t VALUES (:position, :position + 0.5, :type, CAST(:type AS BLOB), NULL)",
     2,
     false,
     {}});
  return def;
}

config::query_def from_k() {
  config::query_def q;
  q.name = "from_k";
  q.projection = "p";
  q.sql = "SELECT k, r, s, b, n FROM t WHERE k >= :k ORDER BY k";
  q.params.push_back({"k", config::query_param::kind::integer, true, std::nullopt});
  return q;
}

/// A read model at checkpoint 3 with one row per event.
std::string read_model_file(const temp_dir& dir) {
  auto path = dir.file("p.db");
  storage::read_model model(path, kinds());
  std::vector<storage::event_view> evs{{1, "s", 1, "a", "", 0, "", ""},
                                       {2, "s", 2, "b", "", 0, "", ""},
                                       {3, "s", 3, "c", "", 0, "", ""}};
  EXPECT_FALSE(model.apply(evs).failed);
  return path;
}

TEST(query_runner, rows_come_back_typed_with_their_columns_and_checkpoint) {
  temp_dir dir;
  storage::query_runner runner(read_model_file(dir));
  auto out = runner.run(from_k(), {{"k", "2"}}, 1, std::chrono::seconds(5));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(out->columns, (std::vector<std::string>{"k", "r", "s", "b", "n"}));
  EXPECT_EQ(out->position, 3u);
  EXPECT_TRUE(out->truncated); // two rows match, the limit is one
  ASSERT_EQ(out->rows.size(), 1u);
  EXPECT_EQ(out->rows[0],
            (std::vector<column_value>{int64_t{2}, 2.5, std::string("b"), blob{"b"}, {}}));
}

TEST(query_runner, bad_parameters_are_a_result_and_the_next_query_runs) {
  temp_dir dir;
  storage::query_runner runner(read_model_file(dir));
  auto q = from_k();
  auto not_declared = runner.run(q, {{"k", "1"}, {"x", "1"}}, 10, std::chrono::seconds(5));
  ASSERT_FALSE(not_declared.has_value());
  EXPECT_EQ(not_declared.error().what, query_error::kind::bad_request);
  EXPECT_NE(not_declared.error().message.find("no parameter \"x\""), std::string::npos);
  auto not_integer = runner.run(q, {{"k", "1x"}}, 10, std::chrono::seconds(5));
  ASSERT_FALSE(not_integer.has_value());
  EXPECT_EQ(not_integer.error().what, query_error::kind::bad_request);
  EXPECT_NE(not_integer.error().message.find("must be an integer"), std::string::npos);
  auto missing = runner.run(q, {}, 10, std::chrono::seconds(5));
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("missing parameter \"k\""), std::string::npos);
  auto all = runner.run(q, {{"k", "1"}}, 10, std::chrono::seconds(5));
  ASSERT_TRUE(all.has_value()) << all.error().message;
  EXPECT_EQ(all->rows.size(), 3u);
  EXPECT_FALSE(all->truncated);
}

} // namespace
} // namespace herald::test
