// How refused appends are answered (protocol/append_outcome.hpp): the REST
// status, code and message and the rpc reply code and message of each
// journal outcome.
#include "protocol/append_outcome.hpp"

#include <gtest/gtest.h>

namespace herald::test {
namespace {

using protocol::error_code;
using protocol::refusal_of;
using storage::append_result;
using storage::append_status;

append_result result(append_status status, std::string message = "", uint64_t actual = 0) {
  append_result r;
  r.status = status;
  r.message = std::move(message);
  r.actual_version = actual;
  return r;
}

TEST(append_outcome, successes_are_not_refused) {
  EXPECT_FALSE(refusal_of(result(append_status::ok)));
  EXPECT_FALSE(refusal_of(result(append_status::idempotent)));
}

TEST(append_outcome, a_wrong_expected_version_is_a_conflict_naming_the_version) {
  auto r = refusal_of(result(append_status::wrong_expected_version, "", 7));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(r->http_status, 409);
  EXPECT_EQ(r->http_code, "wrong_expected_version");
  EXPECT_EQ(r->http_message, "the stream is at version 7");
  EXPECT_EQ(r->actual_version, 7u);
  EXPECT_EQ(r->rpc_code, error_code::conflict);
  EXPECT_EQ(r->rpc_message, "wrong expected version (actual 7)");
}

TEST(append_outcome, a_duplicate_id_is_a_conflict_with_the_journals_message) {
  auto r = refusal_of(result(append_status::duplicate_id, "id e-1 holds another event"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(r->http_status, 409);
  EXPECT_EQ(r->http_code, "duplicate_id");
  EXPECT_EQ(r->http_message, "id e-1 holds another event");
  EXPECT_FALSE(r->actual_version);
  EXPECT_EQ(r->rpc_code, error_code::conflict);
  EXPECT_EQ(r->rpc_message, "duplicate event id: id e-1 holds another event");
}

TEST(append_outcome, an_invalid_append_is_a_bad_request) {
  auto r = refusal_of(result(append_status::invalid, "empty type"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->conflict);
  EXPECT_EQ(r->http_status, 400);
  EXPECT_EQ(r->http_code, "bad_request");
  EXPECT_EQ(r->http_message, "empty type");
  EXPECT_EQ(r->rpc_code, error_code::bad_request);
  EXPECT_EQ(r->rpc_message, "empty type");
}

TEST(append_outcome, error_codes_are_the_protocols) {
  EXPECT_EQ(static_cast<int>(error_code::internal), 100);
  EXPECT_EQ(static_cast<int>(error_code::bad_request), 107);
  EXPECT_EQ(static_cast<int>(error_code::too_many_requests), 111);
  EXPECT_EQ(static_cast<int>(error_code::conflict), 409);
}

} // namespace
} // namespace herald::test
