// The protocol's numbers are the wire format the SDK acts on (docs/protocol.md,
// docs/security.md): each name must keep its documented value.
#include "protocol/client_frame.hpp"
#include "protocol/codes.hpp"

#include <gtest/gtest.h>

namespace herald::protocol {
namespace {

TEST(ProtocolCodes, ErrorCodesHaveTheirDocumentedValues) {
  EXPECT_EQ(value(error_code::internal), 100);
  EXPECT_EQ(value(error_code::unauthorized), 101);
  EXPECT_EQ(value(error_code::unknown_channel), 102);
  EXPECT_EQ(value(error_code::permission_denied), 103);
  EXPECT_EQ(value(error_code::method_not_found), 104);
  EXPECT_EQ(value(error_code::already_subscribed), 105);
  EXPECT_EQ(value(error_code::limit_exceeded), 106);
  EXPECT_EQ(value(error_code::bad_request), 107);
  EXPECT_EQ(value(error_code::not_available), 108);
  EXPECT_EQ(value(error_code::token_expired), 109);
  EXPECT_EQ(value(error_code::expired), 110);
  EXPECT_EQ(value(error_code::too_many_requests), 111);
  EXPECT_EQ(value(error_code::unrecoverable_position), 112);
  EXPECT_EQ(value(error_code::conflict), 409);
}

TEST(ProtocolCodes, UnsubscribeCodesHaveTheirDocumentedValues) {
  EXPECT_EQ(value(unsubscribe_code::insufficient_state), 2500);
  EXPECT_EQ(value(unsubscribe_code::expired), 2501);
}

TEST(ProtocolCodes, CloseCodesHaveTheirDocumentedValues) {
  EXPECT_EQ(value(close_code::normal), 1000);
  EXPECT_EQ(value(close_code::invalid_utf8), 1007);
  EXPECT_EQ(value(close_code::message_too_big), 1009);
  EXPECT_EQ(value(close_code::shutdown), 3001);
  EXPECT_EQ(value(close_code::connection_expired), 3005);
  EXPECT_EQ(value(close_code::subscription_expired), 3006);
  EXPECT_EQ(value(close_code::slow), 3008);
  EXPECT_EQ(value(close_code::insufficient_state), 3010);
  EXPECT_EQ(value(close_code::no_pong), 3012);
  EXPECT_EQ(value(close_code::too_many_requests), 3013);
  EXPECT_EQ(value(close_code::invalid_token), 3500);
  EXPECT_EQ(value(close_code::bad_request), 3501);
  EXPECT_EQ(value(close_code::stale), 3502);
  EXPECT_EQ(value(close_code::connection_limit), 3504);
}

TEST(ProtocolCodes, RepliesAndPushesCarryTheNumbers) {
  EXPECT_EQ(error_reply(7, error_code::permission_denied, "permission denied"),
            R"({"id":7,"error":{"code":103,"message":"permission denied"}})");
  EXPECT_EQ(error_reply(8, error_code::too_many_requests, "too many requests", true),
            R"({"id":8,"error":{"code":111,"message":"too many requests","temporary":true}})");
  EXPECT_EQ(
    unsubscribe_push("chat:a", unsubscribe_code::expired, "subscription expired"),
    R"({"push":{"channel":"chat:a","unsubscribe":{"code":2501,"reason":"subscription expired"}}})");
}

} // namespace
} // namespace herald::protocol
