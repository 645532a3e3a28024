// The typed command decoders (protocol/commands.hpp): each command's
// well-formed frame decodes to its struct, and each malformed field gives
// the error docs/protocol.md documents (107 bad request; for connect, which
// the session answers by closing with 3501, the same decode error).
#include "protocol/commands.hpp"
#include "protocol/json_value_check.hpp"

#include <gtest/gtest.h>

namespace herald::protocol {
namespace {

/// The one command of `frame`.
command parse_one(std::string_view frame) {
  std::vector<command> commands;
  std::string error;
  EXPECT_TRUE(parse_frame(frame, commands, error)) << frame << ": " << error;
  EXPECT_EQ(commands.size(), 1u);
  return commands.empty() ? command{} : std::move(commands.front());
}

/// The struct `d` holds (a default one, after a failed expectation).
template <class T>
T ok(decoded<T> d) {
  EXPECT_TRUE(d) << "decode error " << (d ? 0 : value(d.error().code));
  return d ? std::move(d).value() : T{};
}

template <class T>
decode_error error(const decoded<T>& d) {
  EXPECT_FALSE(d);
  return d ? decode_error{} : d.error();
}

/// `decode` on `frame` fails with 107, naming `channel` (nullopt: none).
template <class Decode>
void expect_bad_request(Decode decode, std::string_view frame, std::optional<std::string> channel) {
  auto cmd = parse_one(frame);
  auto e = error(decode(cmd));
  EXPECT_EQ(e.code, error_code::bad_request) << frame;
  EXPECT_EQ(e.channel, channel) << frame;
}

std::string json_of(const rapidjson::Value* v) {
  return v ? json_text(*v) : "(absent)";
}

TEST(commands, connect_decodes_token_and_usable_positions) {
  auto cmd = parse_one(R"({"id":1,"connect":{"token":"t","name":"js","version":"1",)"
                       R"("subs":{"a":{"recover":true,"offset":5,"epoch":"e"},"b":{},)"
                       R"("c":{"offset":-1},"d":7,"e":{"recover":"yes"}}}})");
  const auto& c = ok(decode_connect(cmd));
  EXPECT_EQ(c.token, "t");
  ASSERT_EQ(c.subs.size(), 2u); // c, d and e are ignored, not refused
  EXPECT_TRUE(c.subs.at("a").recover);
  EXPECT_EQ(c.subs.at("a").position.offset, 5u);
  EXPECT_EQ(c.subs.at("a").position.epoch, "e");
  EXPECT_FALSE(c.subs.at("b").recover);
  EXPECT_EQ(c.subs.at("b").position.offset, 0u);
}

TEST(commands, connect_without_fields_is_anonymous) {
  auto cmd = parse_one(R"({"id":1,"connect":{}})");
  const auto& c = ok(decode_connect(cmd));
  EXPECT_EQ(c.token, "");
  EXPECT_TRUE(c.subs.empty());
}

TEST(commands, connect_refuses_a_malformed_token_or_subs) {
  expect_bad_request(decode_connect, R"({"id":1,"connect":{"token":5}})", std::nullopt);
  expect_bad_request(decode_connect, R"({"id":1,"connect":{"subs":[]}})", std::nullopt);
  expect_bad_request(decode_connect, R"({"id":1,"connect":{"subs":null}})", std::nullopt);
}

TEST(commands, subscribe_decodes_every_field) {
  auto cmd = parse_one(R"({"id":2,"subscribe":{"channel":"news:a","token":"st","recover":true,)"
                       R"("offset":9,"epoch":"ep","flag":2,"type":0,"data":{"x":1}}})");
  const auto& s = ok(decode_subscribe(cmd));
  EXPECT_EQ(s.channel, "news:a");
  EXPECT_EQ(s.token, "st");
  EXPECT_TRUE(s.recover);
  EXPECT_EQ(s.position.offset, 9u);
  EXPECT_EQ(s.position.epoch, "ep");
  EXPECT_TRUE(s.rejects_unrecovered());
  EXPECT_EQ(s.type, 0u);
}

TEST(commands, subscribe_defaults) {
  auto cmd = parse_one(R"({"id":2,"subscribe":{"channel":"c","type":3}})");
  const auto& s = ok(decode_subscribe(cmd));
  EXPECT_EQ(s.token, "");
  EXPECT_FALSE(s.recover);
  EXPECT_EQ(s.position.offset, 0u);
  EXPECT_FALSE(s.rejects_unrecovered());
  EXPECT_EQ(s.type, 3u); // refused by the session with 103, not by the decoder
}

TEST(commands, subscribe_malformed_fields_are_107_and_keep_the_channel) {
  expect_bad_request(decode_subscribe, R"({"id":2,"subscribe":{}})", std::nullopt);
  expect_bad_request(decode_subscribe, R"({"id":2,"subscribe":{"channel":1}})", std::nullopt);
  for (const char* field :
       {R"("recover":1)", R"("offset":-1)", R"("offset":"1")", R"("epoch":2)", R"("flag":true)",
        R"("type":-1)", R"("token":[])", R"("tf":[])", R"("tf":null)"})
    expect_bad_request(decode_subscribe,
                       std::string(R"({"id":2,"subscribe":{"channel":"c",)") + field + "}}",
                       std::string("c"));
}

TEST(commands, unsubscribe_never_fails) {
  auto named = parse_one(R"({"id":3,"unsubscribe":{"channel":"c"}})");
  EXPECT_EQ(ok(decode_unsubscribe(named)).channel, std::optional<std::string>("c"));
  auto wrong = parse_one(R"({"id":3,"unsubscribe":{"channel":5}})");
  EXPECT_EQ(ok(decode_unsubscribe(wrong)).channel, std::nullopt);
  auto none = parse_one(R"({"id":3,"unsubscribe":{}})");
  EXPECT_EQ(ok(decode_unsubscribe(none)).channel, std::nullopt);
}

TEST(commands, publish_carries_its_data_as_json) {
  auto cmd = parse_one(R"({"id":4,"publish":{"channel":"c","data":{"n":[1,2]}}})");
  const auto& p = ok(decode_publish(cmd));
  EXPECT_EQ(p.channel, "c");
  EXPECT_EQ(json_of(p.data), R"({"n":[1,2]})");
  auto bare = parse_one(R"({"id":4,"publish":{"channel":"c"}})");
  EXPECT_EQ(ok(decode_publish(bare)).data, nullptr);
  expect_bad_request(decode_publish, R"({"id":4,"publish":{"data":1}})", std::nullopt);
  expect_bad_request(decode_publish, R"({"id":4,"publish":{"channel":null}})", std::nullopt);
}

TEST(commands, presence_and_presence_stats_need_a_channel) {
  auto p = parse_one(R"({"id":5,"presence":{"channel":"c"}})");
  EXPECT_EQ(ok(decode_presence(p)).channel, "c");
  auto s = parse_one(R"({"id":5,"presence_stats":{"channel":"d"}})");
  EXPECT_EQ(ok(decode_presence_stats(s)).channel, "d");
  expect_bad_request(decode_presence, R"({"id":5,"presence":{}})", std::nullopt);
  expect_bad_request(decode_presence_stats, R"({"id":5,"presence_stats":{"channel":[]}})",
                     std::nullopt);
}

TEST(commands, history_decodes_limit_reverse_and_since) {
  auto cmd = parse_one(R"({"id":6,"history":{"channel":"c","limit":-1,"reverse":true,)"
                       R"("since":{"offset":4,"epoch":"e"}}})");
  const auto& h = ok(decode_history(cmd));
  EXPECT_EQ(h.channel, "c");
  EXPECT_EQ(h.limit, -1);
  EXPECT_TRUE(h.reverse);
  ASSERT_TRUE(h.since);
  EXPECT_EQ(h.since->offset, 4u);
  EXPECT_EQ(h.since->epoch, "e");

  auto bare = parse_one(R"({"id":6,"history":{"channel":"c"}})");
  const auto& d = ok(decode_history(bare));
  EXPECT_EQ(d.limit, 0);
  EXPECT_FALSE(d.reverse);
  EXPECT_FALSE(d.since);
  auto empty_since = parse_one(R"({"id":6,"history":{"channel":"c","since":{}}})");
  ASSERT_TRUE(ok(decode_history(empty_since)).since);
}

TEST(commands, history_malformed_fields_are_107_and_keep_the_channel) {
  expect_bad_request(decode_history, R"({"id":6,"history":{"limit":1}})", std::nullopt);
  for (const char* field :
       {R"("limit":"5")", R"("limit":1.5)", R"("reverse":0)", R"("since":5)", R"("since":null)",
        R"("since":{"offset":-1})", R"("since":{"epoch":1})"})
    expect_bad_request(decode_history,
                       std::string(R"({"id":6,"history":{"channel":"c",)") + field + "}}",
                       std::string("c"));
}

TEST(commands, rpc_decodes_method_and_data) {
  auto cmd = parse_one(R"({"id":7,"rpc":{"method":"append","data":{"channel":"c"}}})");
  const auto& r = ok(decode_rpc(cmd));
  EXPECT_EQ(r.method, "append");
  EXPECT_EQ(json_of(r.data), R"({"channel":"c"})");
  auto no_method = parse_one(R"({"id":7,"rpc":{}})");
  EXPECT_EQ(ok(decode_rpc(no_method)).method, ""); // 108 in the session
  expect_bad_request(decode_rpc, R"({"id":7,"rpc":{"method":1}})", std::nullopt);
}

TEST(commands, append_arguments_follow_the_rpc_rules) {
  auto cmd = parse_one(R"({"id":8,"rpc":{"method":"append","data":{"channel":"c","type":"t",)"
                       R"("id":"e1","expected_version":3,"data":{"v":1}}}})");
  const auto& a = ok(decode_append(ok(decode_rpc(cmd)).data));
  EXPECT_EQ(a.channel, "c");
  EXPECT_EQ(a.type, std::optional<std::string>("t"));
  EXPECT_EQ(a.event_id, "e1");
  EXPECT_EQ(a.expected.k, storage::expected_version::kind::exact);
  EXPECT_EQ(a.expected.version, 3u);
  EXPECT_EQ(json_of(a.data), R"({"v":1})");

  auto bare = parse_one(R"({"id":8,"rpc":{"method":"append","data":{"channel":"c","id":""}}})");
  const auto& b = ok(decode_append(ok(decode_rpc(bare)).data));
  EXPECT_EQ(b.type, std::nullopt);
  EXPECT_EQ(b.event_id, ""); // empty means none
  EXPECT_EQ(b.expected.k, storage::expected_version::kind::any);
  EXPECT_EQ(b.data, nullptr);
}

TEST(commands, malformed_append_arguments_are_107_and_keep_the_channel) {
  auto decode = [](const command& cmd) { return decode_append(ok(decode_rpc(cmd)).data); };
  expect_bad_request(decode, R"({"id":8,"rpc":{"method":"append"}})", std::nullopt);
  expect_bad_request(decode, R"({"id":8,"rpc":{"method":"append","data":{"channel":2}}})",
                     std::nullopt);
  for (const char* field : {R"("expected_version":"5")", R"("expected_version":-1)", R"("type":"")",
                            R"("type":5)", R"("id":5)"})
    expect_bad_request(decode,
                       std::string(R"({"id":8,"rpc":{"method":"append","data":{"channel":"c",)")
                         + field + "}}}",
                       std::string("c"));
}

TEST(commands, refresh_needs_a_token) {
  auto cmd = parse_one(R"({"id":9,"refresh":{"token":"t"}})");
  EXPECT_EQ(ok(decode_refresh(cmd)).token, "t");
  expect_bad_request(decode_refresh, R"({"id":9,"refresh":{}})", std::nullopt);
  expect_bad_request(decode_refresh, R"({"id":9,"refresh":{"token":""}})", std::nullopt);
  expect_bad_request(decode_refresh, R"({"id":9,"refresh":{"token":1}})", std::nullopt);
}

TEST(commands, sub_refresh_needs_a_channel_and_a_token) {
  auto cmd = parse_one(R"({"id":10,"sub_refresh":{"channel":"c","token":"t"}})");
  const auto& r = ok(decode_sub_refresh(cmd));
  EXPECT_EQ(r.channel, "c");
  EXPECT_EQ(r.token, "t");
  expect_bad_request(decode_sub_refresh, R"({"id":10,"sub_refresh":{"token":"t"}})", std::nullopt);
  expect_bad_request(decode_sub_refresh, R"({"id":10,"sub_refresh":{"channel":"c"}})",
                     std::string("c"));
  expect_bad_request(decode_sub_refresh, R"({"id":10,"sub_refresh":{"channel":"c","token":""}})",
                     std::string("c"));
}

TEST(commands, send_carries_its_data) {
  auto cmd = parse_one(R"({"send":{"data":"hi"}})");
  EXPECT_EQ(json_of(ok(decode_send(cmd)).data), R"("hi")");
}

TEST(commands, channel_named_is_the_channel_a_command_waits_on) {
  EXPECT_EQ(channel_named(parse_one(R"({"id":1,"publish":{"channel":"c"}})")), "c");
  // Named even when another field is malformed.
  EXPECT_EQ(channel_named(parse_one(R"({"id":1,"history":{"channel":"c","limit":"x"}})")), "c");
  EXPECT_EQ(channel_named(
              parse_one(R"({"id":1,"rpc":{"method":"append","data":{"channel":"c","type":5}}})")),
            "c");
  EXPECT_EQ(channel_named(parse_one(R"({"id":1,"rpc":{"method":"x","data":{"channel":"c"}}})")),
            std::nullopt);
  EXPECT_EQ(channel_named(parse_one(R"({"id":1,"refresh":{"channel":"c"}})")), std::nullopt);
  EXPECT_EQ(channel_named(parse_one(R"({"id":1,"publish":{"channel":5}})")), std::nullopt);
  EXPECT_EQ(channel_named(parse_one("{}")), std::nullopt);
}

} // namespace
} // namespace herald::protocol
