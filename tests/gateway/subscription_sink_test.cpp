// The sink a channel delivers to directly: nothing reaches the connection
// before the session opens it (its subscribe reply goes first), and nothing
// after it is closed (the unsubscribe goes last).
#include "gateway/session_metrics.hpp"
#include "gateway/subscription_sink.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::gateway {
namespace {

/// Records what would go to the socket, in order.
class recording_connection : public connection {
public:
  void send(std::vector<protocol::frame_ptr> frames) override {
    for (const auto& f : frames)
      sent.push_back(*f);
  }
  void close(protocol::close_code, std::string) override {}
  size_t queued_bytes() const override {
    return 0;
  }
  size_t queued_frames() const override {
    return 0;
  }
  void when_drained(std::function<void()> fn) override {
    fn();
  }

  std::vector<std::string> sent;
};

std::vector<protocol::frame_ptr> frames(std::initializer_list<const char*> texts) {
  std::vector<protocol::frame_ptr> out;
  for (const char* t : texts)
    out.push_back(std::make_shared<const std::string>(t));
  return out;
}

struct sink_test : ::testing::Test {
  std::shared_ptr<recording_connection> conn = std::make_shared<recording_connection>();
  std::shared_ptr<session_metrics> metrics = std::make_shared<session_metrics>();
  std::shared_ptr<std::atomic<uint64_t>> delivered = std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<subscription_sink> sink =
    std::make_shared<subscription_sink>(conn, metrics, delivered);
};

TEST_F(sink_test, holds_deliveries_until_opened_then_sends_them_first) {
  sink->deliver(frames({"p1", "p2"}));
  EXPECT_TRUE(conn->sent.empty());
  conn->send(frames({"subscribe reply"})); // what the session queues before opening
  sink->open();
  sink->deliver(frames({"p3"}));
  EXPECT_EQ(conn->sent, (std::vector<std::string>{"subscribe reply", "p1", "p2", "p3"}));
  EXPECT_EQ(delivered->load(), 3u);
  EXPECT_EQ(metrics->frames_out.load(), 3u);
}

TEST_F(sink_test, drops_everything_once_closed) {
  sink->deliver(frames({"held"}));
  sink->close();
  sink->open(); // too late: a closed sink stays closed
  sink->deliver(frames({"late"}));
  EXPECT_TRUE(conn->sent.empty());
  EXPECT_EQ(delivered->load(), 0u);
}

TEST_F(sink_test, the_handle_closes_it_when_the_subscription_goes) {
  {
    sink_handle handle(sink);
    handle.open();
    sink->deliver(frames({"live"}));
  }
  sink->deliver(frames({"after unsubscribe"}));
  EXPECT_EQ(conn->sent, (std::vector<std::string>{"live"}));
}

TEST_F(sink_test, a_moved_handle_closes_only_once_it_is_gone) {
  sink_handle a(sink);
  sink_handle b(std::move(a));
  b.open();
  sink->deliver(frames({"still open"}));
  sink_handle c;
  c = std::move(b);
  sink->deliver(frames({"after the move"}));
  EXPECT_EQ(conn->sent, (std::vector<std::string>{"still open", "after the move"}));
}

} // namespace
} // namespace herald::gateway
