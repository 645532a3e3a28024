// How node errors are answered (gateway/node_failure.hpp), to REST callers and
// to WebSocket clients.
#include "gateway/node_failure.hpp"

#include <caf/sec.hpp>
#include <gtest/gtest.h>

namespace herald::test {
namespace {

using actors::errc;
using gateway::failure_of;
using protocol::error_code;

TEST(node_failure, rest_gets_a_status_and_the_errors_own_message) {
  struct row {
    errc code;
    int status;
    std::string_view name;
  };
  for (auto [code, status, name] :
       {row{errc::overloaded, 429, "overloaded"}, row{errc::bad_request, 400, "bad_request"},
        row{errc::not_found, 404, "not_found"}, row{errc::timeout, 503, "timeout"},
        row{errc::unavailable, 503, "unavailable"}, row{errc::damaged, 503, "damaged"},
        row{errc::internal, 500, "internal"}}) {
    auto f = failure_of(code, "why");
    EXPECT_EQ(f.http_status, status) << name;
    EXPECT_EQ(f.http_code, name);
    EXPECT_EQ(f.http_message, "why");
  }
}

TEST(node_failure, websocket_clients_learn_only_what_they_can_act_on) {
  auto busy = failure_of(errc::overloaded, "journal queue full");
  EXPECT_EQ(busy.reply, error_code::too_many_requests);
  EXPECT_EQ(busy.reply_message, "too many requests");
  EXPECT_TRUE(busy.temporary);
  auto bad = failure_of(errc::bad_request, "bad stream name");
  EXPECT_EQ(bad.reply, error_code::bad_request);
  EXPECT_EQ(bad.reply_message, "bad stream name");
  EXPECT_FALSE(bad.temporary);
  for (auto code :
       {errc::not_found, errc::timeout, errc::unavailable, errc::damaged, errc::internal}) {
    auto f = failure_of(code, "disk I/O error");
    EXPECT_EQ(f.reply, error_code::internal);
    EXPECT_EQ(f.reply_message, "internal server error");
    EXPECT_TRUE(f.temporary);
  }
}

TEST(node_failure, errors_of_other_categories_are_internal) {
  auto f = failure_of(caf::make_error(caf::sec::unexpected_message));
  EXPECT_EQ(f.http_status, 500);
  EXPECT_EQ(f.reply, error_code::internal);
}

} // namespace
} // namespace herald::test
