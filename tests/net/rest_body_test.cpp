// Parsing REST requests (net/rest_body.hpp): what the fuzz target found,
// pinned as plain unit tests. The fuzz target (tests/fuzz/rest_body_fuzz.cpp)
// checks the same rules on arbitrary input.
#include "net/rest_api.hpp"
#include "net/rest_body.hpp"
#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"

#include <gtest/gtest.h>

namespace herald::test {
namespace {

using net::bad_request;
using net::parse_append;

std::string error_of(std::string_view body) {
  auto r = parse_append("s", body, std::nullopt, "message");
  EXPECT_FALSE(r) << body;
  return r ? "" : r.error().message;
}

TEST(rest_body, strings_keep_an_escaped_nul) {
  auto r = parse_append("s", R"({"type":"a\u0000b","id":"i\u0000d"})", std::nullopt, "message");
  ASSERT_TRUE(r);
  const auto& e = r->events.at(0);
  EXPECT_EQ(e.type, std::string("a\0b", 3));
  EXPECT_EQ(e.id, std::string("i\0d", 3));
}

TEST(rest_body, an_expected_version_with_a_nul_is_not_a_number) {
  EXPECT_EQ(error_of(R"({"type":"t","expected_version":"3\u0000x"})"),
            "expected_version is any, no_stream, exists or a number");
}

TEST(rest_body, rejects_what_could_not_be_written_back) {
  EXPECT_EQ(error_of(R"({"type":"t","data":[8e308]})"),
            "a number is too big to be stored in a double");
  EXPECT_EQ(error_of(R"({"type":"t","meta":{"k":"\udc00"}})"),
            "a \\u escape is an unpaired UTF-16 surrogate");
  EXPECT_EQ(error_of(R"({"type":"t","data":{"\udfff":1}})"),
            "a \\u escape is an unpaired UTF-16 surrogate");
}

/// The types of the events `body` appends with default type "note".
std::vector<std::string> types_of(std::string_view body) {
  auto r = parse_append("s", body, std::nullopt, "note");
  const auto* append = r ? &*r : nullptr;
  EXPECT_NE(append, nullptr) << body;
  std::vector<std::string> types;
  if (append)
    for (const auto& e : append->events)
      types.push_back(e.type);
  return types;
}

// Issue 9 item 13: the WebSocket rule (data.type, else the namespace's
// default_type), not a 400.
TEST(rest_body, an_event_without_a_type_gets_the_websocket_default) {
  EXPECT_EQ(types_of(R"({"data":{"text":"hi"}})"), std::vector<std::string>{"note"});
  EXPECT_EQ(types_of(R"({})"), std::vector<std::string>{"note"});
  EXPECT_EQ(types_of(R"({"data":{"type":"joined"}})"), std::vector<std::string>{"joined"});
  EXPECT_EQ(types_of(R"({"data":{"type":""}})"), std::vector<std::string>{"note"});
  EXPECT_EQ(types_of(R"({"data":{"type":7}})"), std::vector<std::string>{"note"});
  EXPECT_EQ(types_of(R"({"data":["type"]})"), std::vector<std::string>{"note"});
  EXPECT_EQ(types_of(R"({"type":"given","data":{"type":"inner"}})"),
            std::vector<std::string>{"given"});
  EXPECT_EQ(types_of(R"({"events":[{"data":{"type":"a"}},{"type":"b"},{"data":1}]})"),
            (std::vector<std::string>{"a", "b", "note"}));
  // A type that is given must be a good one.
  EXPECT_EQ(error_of(R"({"type":""})"), "\"type\" is a string of 1 to 128 characters");
  EXPECT_EQ(error_of(R"({"type":null})"), "\"type\" is a string of 1 to 128 characters");
}

// Issue 9 item 8: meta.user would show as the publication's info.user.
TEST(rest_body, meta_may_not_set_the_publisher_identity) {
  for (const char* key : {"user", "client", "conn_info", "chan_info"}) {
    auto message = error_of(std::string(R"({"type":"t","meta":{")") + key + R"(":"alice"}})");
    EXPECT_NE(message.find(key), std::string::npos) << message;
  }
  EXPECT_EQ(types_of(R"({"type":"t","meta":{"correlation":"c","users":1}})").size(), 1u);
}

// Issue 12 section 4: the audit fields are herald's; the ids are the
// event's own fields and land in its metadata.
TEST(rest_body, meta_may_not_set_the_audit_fields) {
  for (const char* key : {"via", "key", "processor", "correlation_id", "causation_id", "tags"}) {
    auto message = error_of(std::string(R"({"type":"t","meta":{")") + key + R"(":"x"}})");
    EXPECT_NE(message.find(key), std::string::npos) << message;
  }
}

TEST(rest_body, correlation_and_causation_ids_go_to_the_metadata) {
  auto r = parse_append(
    "s",
    R"({"events":[{"type":"t","correlation_id":"c1","causation_id":"e0","meta":{"m":1}},{"type":"u"}]})",
    std::nullopt, "message");
  ASSERT_TRUE(r);
  auto first = storage::decode_meta(r->events.at(0).meta);
  EXPECT_EQ(first.correlation, "c1");
  EXPECT_EQ(first.causation, "e0");
  std::string json;
  ASSERT_TRUE(storage::msgpack_to_json(r->events.at(0).meta, json));
  EXPECT_EQ(json, R"({"m":1,"correlation_id":"c1","causation_id":"e0"})");
  EXPECT_TRUE(r->events.at(1).meta.empty()); // nothing given, nothing stored
  for (const char* bad :
       {R"({"type":"t","correlation_id":""})", R"({"type":"t","correlation_id":7})",
        R"({"type":"t","causation_id":null})"})
    EXPECT_NE(error_of(bad).find("_id\" is a string of 1 to 256"), std::string::npos) << bad;
  EXPECT_FALSE(
    error_of(std::string(R"({"type":"t","causation_id":")") + std::string(257, 'x') + R"("})")
      .empty());
}

// Issue 9 item 8: 9223372036854775808 used to wrap to position 1.
TEST(rest_body, read_positions_past_int64_are_bad) {
  for (const char* v :
       {"9223372036854775808", "18446744073709551615", "-1", "99999999999999999999"}) {
    EXPECT_FALSE(net::parse_log_read({{"from", v}})) << v;
    EXPECT_FALSE(net::parse_log_read({{"limit", v}})) << v;
    EXPECT_FALSE(net::parse_stream_read({{"from", v}})) << v;
  }
  auto log = net::parse_log_read({{"from", "9223372036854775807"}});
  ASSERT_TRUE(log);
  EXPECT_EQ(log->from, 9223372036854775807ULL);
}

TEST(rest_body, only_json_is_json) {
  for (const char* t : {"application/json", "Application/JSON", "application/json; charset=utf-8",
                        " application/json ;charset=UTF-8"})
    EXPECT_TRUE(net::is_json_media_type(t)) << t;
  for (const char* t : {"", "text/plain", "text/plain;charset=UTF-8",
                        "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
                        "application/jsonx", "application/json-seq", "text/json"})
    EXPECT_FALSE(net::is_json_media_type(t)) << t;
}

config::settings rules_settings() {
  config::settings s;
  config::namespace_settings open;
  open.anonymous = true;
  open.publish = config::permission::any;
  open.history = config::permission::any;
  open.user_limited = true;
  s.namespaces["chat"] = open;
  auto users_only = open;
  users_only.anonymous = false;
  s.namespaces["users"] = users_only;
  auto subscribers = open;
  subscribers.history = config::permission::subscriber;
  s.namespaces["room"] = subscribers;
  return s;
}

// Issue 9 items 1 and 10: REST applies the channel rules of WebSocket.
TEST(rest_access, anonymous_callers_get_what_an_anonymous_client_gets) {
  using net::stream_access;
  auto s = rules_settings();
  auto history = &config::namespace_settings::history;
  auto publish = &config::namespace_settings::publish;
  EXPECT_EQ(net::anonymous_access(s, "chat:lobby", history), stream_access::allowed);
  EXPECT_EQ(net::anonymous_access(s, "chat:lobby", publish), stream_access::allowed);
  EXPECT_EQ(net::anonymous_access(s, "$chat:secret", history), stream_access::denied);
  EXPECT_EQ(net::anonymous_access(s, "$chat:secret", publish), stream_access::denied);
  EXPECT_EQ(net::anonymous_access(s, "chat:dm#alice,bob", history), stream_access::denied);
  EXPECT_EQ(net::anonymous_access(s, "users:alice", history), stream_access::denied);
  EXPECT_EQ(net::anonymous_access(s, "room:a", history), stream_access::denied);
  EXPECT_EQ(net::anonymous_access(s, "room:a", publish), stream_access::allowed);
  EXPECT_EQ(net::anonymous_access(s, "todos:home", publish), stream_access::unknown_channel);
  EXPECT_EQ(net::anonymous_access(s, "home", history), stream_access::unknown_channel);
}

TEST(rest_access, the_server_may_touch_every_configured_channel) {
  using net::stream_access;
  auto s = rules_settings();
  EXPECT_EQ(net::server_access(s, "$chat:secret"), stream_access::allowed);
  EXPECT_EQ(net::server_access(s, "chat:dm#alice,bob"), stream_access::allowed);
  EXPECT_EQ(net::server_access(s, "users:alice"), stream_access::allowed);
  EXPECT_EQ(net::server_access(s, "todos:home"), stream_access::unknown_channel);
  EXPECT_EQ(net::server_access(s, "home"), stream_access::unknown_channel);
}

} // namespace
} // namespace herald::test
