// Event metadata: the audit fields round-trip, rows written before they
// existed still read, and a REST caller's own metadata merges with them.
#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"

#include <gtest/gtest.h>

#include <msgpack.hpp>

using namespace herald::storage;

namespace {

std::string json_of(const std::string& mp) {
  std::string out;
  EXPECT_TRUE(msgpack_to_json(mp, out));
  return out;
}

std::string msgpack_of(std::string_view json) {
  std::string out;
  EXPECT_TRUE(valid_json_to_msgpack(json, out));
  return out;
}

} // namespace

TEST(EventMeta, AuditFieldsRoundTrip) {
  event_meta m;
  m.user = "alice";
  m.via = "api";
  m.key = "backend";
  m.processor = "mentions";
  m.correlation = "c1";
  m.causation = "e7";
  auto back = decode_meta(encode_meta(m));
  EXPECT_EQ(back.user, "alice");
  EXPECT_EQ(back.via, "api");
  EXPECT_EQ(back.key, "backend");
  EXPECT_EQ(back.processor, "mentions");
  EXPECT_EQ(back.correlation, "c1");
  EXPECT_EQ(back.causation, "e7");
  EXPECT_EQ(json_of(encode_meta(m)),
            R"({"user":"alice","correlation_id":"c1","causation_id":"e7","via":"api",)"
            R"("key":"backend","processor":"mentions"})");
}

TEST(EventMeta, TagsAreAnObject) {
  event_meta m;
  m.tags = R"({"a":"1"})";
  EXPECT_EQ(decode_meta(encode_meta(m)).tags, R"({"a":"1"})");
  // Anything but a map is not tags.
  EXPECT_EQ(decode_meta(msgpack_of(R"({"tags":"x"})")).tags, "");
}

TEST(EventMeta, OldRowsStillRead) {
  // Rows from before the audit fields: user and client only, and the old
  // spelling of the ids.
  auto m =
    decode_meta(msgpack_of(R"({"user":"bob","client":"c","correlation":"x","causation":"y"})"));
  EXPECT_EQ(m.user, "bob");
  EXPECT_EQ(m.client, "c");
  EXPECT_EQ(m.correlation, "x");
  EXPECT_EQ(m.causation, "y");
  EXPECT_EQ(m.via, "");
  EXPECT_EQ(m.key, "");
  // The new name wins when a row holds both.
  auto both = decode_meta(msgpack_of(R"({"correlation_id":"new","correlation":"old"})"));
  EXPECT_EQ(both.correlation, "new");
  auto both_reversed = decode_meta(msgpack_of(R"({"correlation":"old","correlation_id":"new"})"));
  EXPECT_EQ(both_reversed.correlation, "new");
  // A field of the wrong type reads as empty, the others still read.
  auto odd = decode_meta(msgpack_of(R"({"via":5,"user":"u"})"));
  EXPECT_EQ(odd.via, "");
  EXPECT_EQ(odd.user, "u");
}

TEST(EventMeta, MergeKeepsTheCallersKeysAndAddsAudit) {
  event_meta audit;
  audit.via = "rest";
  audit.key = "default";
  audit.correlation = "c9";
  auto merged = merge_meta(msgpack_of(R"({"tenant":"t1","n":[1,2]})"), audit);
  EXPECT_EQ(json_of(merged),
            R"({"tenant":"t1","n":[1,2],"correlation_id":"c9","via":"rest","key":"default"})");
}

TEST(EventMeta, MergeDropsTheCallersCopyOfAnAuditKey) {
  event_meta audit;
  audit.via = "rest";
  auto merged = merge_meta(msgpack_of(R"({"via":"ws","a":1})"), audit);
  EXPECT_EQ(json_of(merged), R"({"a":1,"via":"rest"})");
}

TEST(EventMeta, MergeWithNothingOrGarbage) {
  event_meta audit;
  audit.via = "api";
  EXPECT_EQ(json_of(merge_meta("", audit)), R"({"via":"api"})");
  EXPECT_EQ(json_of(merge_meta(msgpack_of("[1]"), audit)), R"({"via":"api"})");
  EXPECT_EQ(json_of(merge_meta(std::string("\xc1", 1), audit)), R"({"via":"api"})");
}

TEST(EventMeta, AProcessorsGenerationIsWrittenOnlyAfterARebuild) {
  event_meta m;
  m.processor = "mentions";
  EXPECT_EQ(json_of(encode_meta(m)), R"({"processor":"mentions"})");
  m.generation = 2;
  EXPECT_EQ(json_of(encode_meta(m)), R"({"processor":"mentions","generation":2})");
  EXPECT_EQ(decode_meta(encode_meta(m)).generation, 2u);
  EXPECT_EQ(decode_meta(msgpack_of(R"({"generation":"2"})")).generation, 0u);
  EXPECT_EQ(decode_meta(merge_meta(msgpack_of(R"({"x":1})"), m)).generation, 2u);
}
