// Named queries: bound parameters (an injection attempt is just data), the
// chat demo's `rooms` and `messages` as docs/rest.md and the embedded default config describe them,
// row limits, timeouts, and clear errors for bad parameters and unknown queries.
#include "tests/actors/node_fixture.hpp"

#include "actors/errors.hpp"

#include <rapidjson/document.h>

namespace herald::test {
namespace {

struct answer {
  std::optional<actors::query_result> result;
  std::optional<actors::errc> error;
  std::string message;
};

answer query(node_harness& h, std::string name, std::map<std::string, std::string> params) {
  answer a;
  h.self
    ->request(h.node.queries, 10s, actors::query_atom_v,
              actors::query_request{std::move(name), std::move(params)})
    .receive([&](const actors::query_result& r) { a.result = r; },
             [&](const caf::error& e) {
               a.error = actors::code_of(e);
               a.message = actors::message_of(e);
             });
  return a;
}

rapidjson::Document rows_of(const answer& a) {
  rapidjson::Document d;
  d.Parse(a.result->rows_json.c_str());
  EXPECT_TRUE(d.IsArray()) << a.result->rows_json;
  return d;
}

TEST(query, the_chat_demo_rooms_and_messages) {
  temp_dir dir;
  node_harness h(demo_settings(dir));
  for (int i = 1; i <= 5; ++i)
    h.append("chat:lobby", "message",
             "{\"author\":\"ann\",\"text\":\"m" + std::to_string(i) + "\"}");
  h.append("chat:lobby", "typing", "{\"author\":\"bob\"}");
  auto head =
    h.append("chat:kitchen", "message", "{\"author\":\"bob\",\"text\":\"hi\"}").last_position;
  h.caught_up("chat", head);
  auto rooms = query(h, "rooms", {});
  ASSERT_TRUE(rooms.result) << rooms.message;
  EXPECT_EQ(rooms.result->position, head);
  auto r = rows_of(rooms);
  ASSERT_EQ(r.Size(), 2u);
  EXPECT_STREQ(r[0]["room"].GetString(), "kitchen"); // most recent first
  EXPECT_EQ(r[1]["messages"].GetInt(), 5);           // the typing event does not count
  EXPECT_EQ(r[1]["last_position"].GetUint64(), head - 1);
  EXPECT_TRUE(r[1]["last_time"].IsInt64());

  auto latest = query(h, "messages", {{"room", "lobby"}, {"limit", "2"}});
  ASSERT_TRUE(latest.result) << latest.message;
  auto m = rows_of(latest);
  ASSERT_EQ(m.Size(), 2u);
  EXPECT_EQ(m[0]["offset"].GetInt(), 5); // newest first
  EXPECT_STREQ(m[0]["text"].GetString(), "m5");
  EXPECT_STREQ(m[0]["author"].GetString(), "ann");
  auto before = query(h, "messages", {{"room", "lobby"}, {"before", "3"}});
  auto b = rows_of(before);
  ASSERT_EQ(b.Size(), 2u);
  EXPECT_EQ(b[0]["offset"].GetInt(), 2);
  EXPECT_EQ(rows_of(query(h, "messages", {{"room", "lobby"}})).Size(), 5u); // default 50
}

TEST(query, parameters_are_bound_so_injection_is_just_data) {
  temp_dir dir;
  node_harness h(demo_settings(dir));
  auto head =
    h.append("chat:lobby", "message", "{\"author\":\"ann\",\"text\":\"x\"}").last_position;
  h.caught_up("chat", head);
  for (const char* attack :
       {"lobby' OR '1'='1", "lobby\" OR 1=1 --", "x'); DROP TABLE rooms; --", "%", "*"}) {
    auto a = query(h, "messages", {{"room", attack}});
    ASSERT_TRUE(a.result) << a.message;
    EXPECT_EQ(a.result->rows, 0u) << attack;
  }
  // The table is still there and intact.
  EXPECT_EQ(query(h, "messages", {{"room", "lobby"}}).result->rows, 1u);
}

TEST(query, bad_requests_get_clear_errors) {
  temp_dir dir;
  node_harness h(demo_settings(dir));
  h.caught_up("chat", h.append("chat:a", "message", "{}").last_position);
  auto missing = query(h, "messages", {});
  EXPECT_EQ(missing.error, actors::errc::bad_request);
  EXPECT_EQ(missing.message, "missing parameter \"room\"");
  auto not_int = query(h, "messages", {{"room", "a"}, {"limit", "ten"}});
  EXPECT_EQ(not_int.error, actors::errc::bad_request);
  EXPECT_EQ(not_int.message, "parameter \"limit\" must be an integer");
  auto unknown_param = query(h, "messages", {{"room", "a"}, {"sort", "up"}});
  EXPECT_EQ(unknown_param.error, actors::errc::bad_request);
  EXPECT_EQ(unknown_param.message, "query messages has no parameter \"sort\"");
  auto unknown = query(h, "nope", {});
  EXPECT_EQ(unknown.error, actors::errc::not_found);
}

/// A projection with a numbers table and two queries: one returning many
/// rows, one that runs for a very long time.
config::settings numbers_settings(const temp_dir& dir, int64_t row_limit,
                                  config::duration timeout) {
  auto s = demo_settings(dir);
  s.projection_defs.clear();
  s.query_defs.clear();
  s.processor_defs.clear(); // the mentions processor reads a projection
  config::projection_def p{"nums", "CREATE TABLE n (v INTEGER PRIMARY KEY);", {}, 1, {}};
  p.handlers.push_back({"", {}, "INSERT INTO n VALUES (:position)", 2, false, {}});
  s.projection_defs.push_back(p);
  s.query_defs.push_back({"all", "nums", "SELECT v FROM n ORDER BY v", {}, true, 3, {}});
  s.query_defs.push_back({"slow",
                          "nums",
                          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                          "SELECT count(*) AS k FROM c",
                          {},
                          true,
                          4,
                          {}});
  s.queries.row_limit = row_limit;
  s.queries.timeout = timeout;
  return s;
}

TEST(query, row_limit_and_timeout_apply) {
  temp_dir dir;
  node_harness h(numbers_settings(dir, 10, std::chrono::milliseconds(200)));
  uint64_t head = 0;
  for (int i = 0; i < 25; ++i)
    head = h.append("n", "t", "{}").last_position;
  h.caught_up("nums", head);
  auto all = query(h, "all", {});
  ASSERT_TRUE(all.result) << all.message;
  EXPECT_EQ(all.result->rows, 10u);
  EXPECT_TRUE(all.result->truncated);
  auto start = std::chrono::steady_clock::now();
  auto slow = query(h, "slow", {});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(slow.error, actors::errc::timeout) << slow.message;
  EXPECT_LT(took, std::chrono::seconds(5));
  // The worker that timed out still answers.
  EXPECT_TRUE(query(h, "all", {}).result);
  EXPECT_TRUE(query(h, "all", {}).result);
}

// A faulted projection's queries say so: their rows stop at the event
// before the fault, which an old `position` alone does not tell. Once the
// operator skips the event, they say running again.
TEST(query, a_faulted_projections_queries_say_so) {
  temp_dir dir;
  auto s = demo_settings(dir);
  s.projection_defs.clear();
  s.query_defs.clear();
  s.processor_defs.clear(); // the mentions processor reads a projection
  config::projection_def p{
    "picky", "CREATE TABLE v (p INTEGER PRIMARY KEY, ok INTEGER CHECK (ok = 1));", {}, 1, {}};
  p.handlers.push_back({"",
                        {},
                        "INSERT INTO v VALUES (:position, "
                        "CASE WHEN json_extract(:data, '$.bad') THEN 0 ELSE 1 END)",
                        2,
                        false,
                        {}});
  s.projection_defs.push_back(p);
  s.query_defs.push_back({"all", "picky", "SELECT p FROM v ORDER BY p", {}, true, 3, {}});
  node_harness h(s);
  auto first = h.append("s", "t", "{}").last_position;
  h.caught_up("picky", first);
  auto fresh = query(h, "all", {});
  ASSERT_TRUE(fresh.result) << fresh.message;
  EXPECT_EQ(fresh.result->status, "running");
  auto bad = h.append("s", "t", "{\"bad\":true}").last_position;
  ASSERT_TRUE(h.eventually([&] {
    auto a = query(h, "all", {});
    return a.result && a.result->status == "faulted";
  }));
  auto stale = query(h, "all", {});
  EXPECT_EQ(stale.result->position, bad - 1);
  EXPECT_EQ(stale.result->rows, 1u);
  h.self->request(h.node.projections, 10s, actors::skip_atom_v, std::string("picky"))
    .receive([](const actors::projection_status&) {},
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  auto later = h.append("s", "t", "{}").last_position;
  h.caught_up("picky", later);
  ASSERT_TRUE(h.eventually([&] {
    auto a = query(h, "all", {});
    return a.result && a.result->status == "running";
  }));
  EXPECT_EQ(query(h, "all", {}).result->rows, 2u);
}

} // namespace
} // namespace herald::test
