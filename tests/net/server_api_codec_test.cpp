// The server API's request decoding and answer encoding (net/server_api_codec.hpp):
// Centrifugo's shapes, and a clear 107 for every malformed field.
#include "net/server_api_codec.hpp"

#include "storage/msgpack_json.hpp"

#include <gtest/gtest.h>

#include <limits>

using namespace herald::net::server_api;

namespace {

std::shared_ptr<rapidjson::Document> params(std::string_view json) {
  auto doc = parse_params(json);
  EXPECT_TRUE(doc) << json;
  return doc ? *doc : std::make_shared<rapidjson::Document>();
}

template <class T>
std::string problem(const decoded<T>& d) {
  EXPECT_FALSE(d);
  if (d)
    return "";
  EXPECT_EQ(d.error().what, code::bad_request);
  return d.error().message;
}

std::string json_of(const std::string& mp) {
  std::string out;
  EXPECT_TRUE(herald::storage::msgpack_to_json(mp, out));
  return out;
}

} // namespace

TEST(ServerApiCodec, BodiesMustBeJsonObjects) {
  EXPECT_TRUE(parse_params(""));    // nothing: {}
  EXPECT_TRUE(parse_params(" \n")); // blank: {}
  EXPECT_TRUE(parse_params("{}"));
  for (auto bad : {"[]", "1", "{", "{\"a\":1} x", "\"s\"", "{\"a\":\xff}"}) {
    auto d = parse_params(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().what, code::bad_request);
  }
  std::string deep(200, '[');
  EXPECT_FALSE(parse_params("{\"a\":" + deep + std::string(200, ']') + "}"));
}

TEST(ServerApiCodec, Publish) {
  auto p = params(R"({"channel":"chat:a","data":{"text":"hi","n":1.5},"tags":{"k":"v"},)"
                  R"("idempotency_key":"key-1"})");
  auto d = decode_publish(*p);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->channel, "chat:a");
  EXPECT_EQ(json_of(d->data), R"({"text":"hi","n":1.5})");
  EXPECT_EQ(d->tags, R"({"k":"v"})");
  EXPECT_EQ(d->idempotency, "key-1");
  // skip_history false and version 0 are what Centrifugo does by default.
  EXPECT_TRUE(
    decode_publish(*params(R"({"channel":"c","data":1,"skip_history":false,"version":0})")));
}

TEST(ServerApiCodec, PublishRefusals) {
  EXPECT_EQ(problem(decode_publish(*params(R"({"data":{}})"))), "\"channel\" required");
  EXPECT_EQ(problem(decode_publish(*params(R"({"channel":"","data":{}})"))),
            "\"channel\" required");
  EXPECT_EQ(problem(decode_publish(*params(R"({"channel":5,"data":{}})"))),
            "\"channel\" is a string");
  EXPECT_EQ(problem(decode_publish(*params(R"({"channel":"c"})"))), "\"data\" required");
  EXPECT_NE(problem(decode_publish(*params(R"({"channel":"c","b64data":"aGk="})"))).find("JSON"),
            std::string::npos);
  EXPECT_NE(problem(decode_publish(*params(R"({"channel":"c","data":1,"skip_history":true})")))
              .find("journal"),
            std::string::npos);
  EXPECT_NE(problem(decode_publish(*params(R"({"channel":"c","data":1,"version":3})"))), "");
  EXPECT_NE(problem(decode_publish(*params(R"({"channel":"c","data":1,"tags":{"type":"x"}})"))),
            "");
  EXPECT_NE(problem(decode_publish(*params(R"({"channel":"c","data":1,"tags":{"a":1}})"))), "");
  EXPECT_NE(problem(decode_publish(*params(R"({"channel":"c","data":1,"tags":[]})"))), "");
  EXPECT_NE(problem(decode_publish(*params(R"({"channel":"c","data":1,"idempotency_key":")"
                                           + std::string(300, 'k') + "\"}"))),
            "");
}

TEST(ServerApiCodec, Broadcast) {
  auto d = decode_broadcast(*params(R"({"channels":["a","b"],"data":{"x":1}})"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->channels, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(d->publication.channel.empty());
  for (auto bad :
       {R"({"data":1})", R"({"channels":[],"data":1})", R"({"channels":["a",""],"data":1})",
        R"({"channels":"a","data":1})", R"({"channels":["a"]})"})
    EXPECT_NE(problem(decode_broadcast(*params(bad))), "") << bad;
}

TEST(ServerApiCodec, ConnectionsNeedAUser) {
  auto s = decode_subscription(*params(R"({"user":"alice","channel":"chat:x","client":"c1"})"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->who.user, "alice");
  EXPECT_EQ(s->who.client, "c1");
  EXPECT_EQ(problem(decode_subscription(*params(R"({"channel":"chat:x"})"))), "\"user\" required");
  EXPECT_EQ(problem(decode_subscription(*params(R"({"user":"a"})"))), "\"channel\" required");
  EXPECT_EQ(problem(decode_disconnect(*params(R"({"user":""})"))), "\"user\" required");
  EXPECT_EQ(problem(decode_refresh(*params(R"({})"))), "\"user\" required");
}

TEST(ServerApiCodec, Disconnect) {
  auto d = decode_disconnect(*params(R"({"user":"u"})"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->close_code, 3503);
  EXPECT_EQ(d->reason, "force disconnect");
  d = decode_disconnect(
    *params(R"({"user":"u","whitelist":["c1"],"disconnect":{"code":4001,"reason":"bye"}})"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->whitelist, std::vector<std::string>{"c1"});
  EXPECT_EQ(d->close_code, 4001);
  EXPECT_EQ(d->reason, "bye");
  for (auto bad :
       {R"({"user":"u","disconnect":{"code":1000}})", R"({"user":"u","disconnect":{"code":5000}})",
        R"({"user":"u","disconnect":{"code":"4000"}})", R"({"user":"u","whitelist":"c"})"})
    EXPECT_NE(problem(decode_disconnect(*params(bad))), "") << bad;
  EXPECT_NE(problem(decode_disconnect(*params(R"({"user":"u","disconnect":{"code":4000,"reason":")"
                                              + std::string(124, 'r') + "\"}}"))),
            "");
}

TEST(ServerApiCodec, Refresh) {
  auto r =
    decode_refresh(*params(R"({"user":"u","expired":true,"expire_at":1700000000,"info":{"a":1}})"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->expired);
  EXPECT_EQ(r->expire_at, 1700000000);
  EXPECT_EQ(r->info, R"({"a":1})");
  EXPECT_NE(problem(decode_refresh(*params(R"({"user":"u","expire_at":-1})"))), "");
  EXPECT_NE(problem(decode_refresh(*params(R"({"user":"u","expired":"yes"})"))), "");
}

TEST(ServerApiCodec, History) {
  auto h = decode_history(*params(R"({"channel":"c"})"));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->limit, 0); // Centrifugo's default: only the position
  EXPECT_FALSE(h->since_offset);
  h = decode_history(
    *params(R"({"channel":"c","limit":-1,"since":{"offset":3,"epoch":"e"},"reverse":true})"));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->limit, -1);
  EXPECT_EQ(*h->since_offset, 3u);
  EXPECT_EQ(h->since_epoch, "e");
  EXPECT_TRUE(h->reverse);
  for (auto bad : {R"({"channel":"c","limit":-2})", R"({"channel":"c","limit":"5"})",
                   R"({"channel":"c","since":{"offset":-1}})", R"({"channel":"c","since":3})"})
    EXPECT_NE(problem(decode_history(*params(bad))), "") << bad;
}

TEST(ServerApiCodec, HistoryPlans) {
  history_args h;
  h.limit = 0;
  auto p = plan_history(h, 1000);
  EXPECT_EQ(p.count, 0u); // only the top
  h.limit = -1;
  p = plan_history(h, 1000);
  EXPECT_EQ(p.from, 1u);
  EXPECT_TRUE(p.forward);
  EXPECT_EQ(p.count, 1000u); // all, capped
  h.limit = 5000;
  EXPECT_EQ(plan_history(h, 1000).count, 1000u);
  h.limit = 2;
  h.since_offset = 3;
  p = plan_history(h, 1000);
  EXPECT_EQ(p.from, 4u); // after since
  EXPECT_EQ(p.count, 2u);
  h.reverse = true;
  p = plan_history(h, 1000);
  EXPECT_EQ(p.from, 2u); // before since, backwards
  EXPECT_FALSE(p.forward);
  h.since_offset = 0;
  EXPECT_EQ(plan_history(h, 1000).count, 0u); // nothing before the start
  h.since_offset.reset();
  EXPECT_EQ(plan_history(h, 1000).from, std::numeric_limits<uint64_t>::max()); // from the top
}

TEST(ServerApiCodec, Glob) {
  EXPECT_TRUE(glob_match("chat:*", "chat:lobby"));
  EXPECT_TRUE(glob_match("chat:*", "chat:"));
  EXPECT_FALSE(glob_match("chat:*", "news:lobby"));
  EXPECT_TRUE(glob_match("*:lob?y", "chat:lobby"));
  EXPECT_FALSE(glob_match("*:lob?y", "chat:loby"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYbZc"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_TRUE(glob_match("a\\*", "a*"));
  EXPECT_FALSE(glob_match("a\\*", "ab"));
  EXPECT_TRUE(glob_match("a\\?", "a?"));
  EXPECT_FALSE(glob_match("a\\?", "ab"));
  // Many stars on a long name stay quick (one backtrack point).
  EXPECT_FALSE(glob_match(std::string(50, '*') + "b", std::string(10000, 'a')));
}

TEST(ServerApiCodec, Envelopes) {
  EXPECT_EQ(result_envelope("{\"offset\":1}"), R"({"result":{"offset":1}})");
  EXPECT_EQ(error_envelope(error{code::unknown_channel, "unknown \"channel\""}),
            R"({"error":{"code":102,"message":"unknown \"channel\""}})");
}

TEST(ServerApiCodec, BatchCommands) {
  auto p = params(
    R"({"commands":[{"publish":{"channel":"c","data":1}},{"info":{}},null,{"a":{},"b":{}},{"x":1}]})");
  std::optional<error> why;
  auto cmds = batch_commands(*p, why);
  ASSERT_FALSE(why);
  ASSERT_EQ(cmds.size(), 5u);
  EXPECT_EQ(cmds[0].method, "publish");
  EXPECT_FALSE(cmds[0].problem);
  EXPECT_EQ(cmds[1].method, "info");
  EXPECT_TRUE(cmds[2].problem); // null: 107, as Centrifugo
  EXPECT_TRUE(cmds[3].problem); // two methods in one command
  EXPECT_TRUE(cmds[4].problem); // params not an object
  batch_commands(*params(R"({"commands":{}})"), why);
  EXPECT_TRUE(why);
}

TEST(ServerApiCodec, LegacyLines) {
  auto lines =
    legacy_lines("{\"method\":\"info\"}\n\n  \r\n{\"method\":\"publish\",\"params\":{}}");
  ASSERT_EQ(lines.size(), 2u);
  auto first = legacy_command(*params(lines[0]));
  EXPECT_EQ(first.method, "info");
  EXPECT_EQ(first.params, nullptr); // no params: {}
  auto second = legacy_command(*params(lines[1]));
  EXPECT_EQ(second.method, "publish");
  ASSERT_NE(second.params, nullptr);
  EXPECT_TRUE(legacy_command(*params(R"({"params":{}})")).problem);
  EXPECT_TRUE(legacy_command(*params(R"({"method":"info","params":[]})")).problem);
}
