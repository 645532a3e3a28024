// The gateway's subscriber_sink: one per subscription, shared by the session
// (which opens and closes it) and the channel (which delivers to it).
//
// Order on the wire is what makes this safe. The channel may deliver as soon
// as it has answered the subscribe, but the client must see the subscribe
// reply (or the connect reply, for server-side subscriptions) first: until
// the session opens the sink, right after it has queued that reply,
// deliveries are held here. Once the session ends the subscription
// (unsubscribe, resync, expiry, the session ending), the sink is closed and
// drops what still comes, so that nothing of the channel follows the
// unsubscribe on the wire.
#pragma once

#include "actors/subscriber_sink.hpp"
#include "gateway/connection.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace herald::gateway {

struct session_metrics;

class subscription_sink final : public actors::subscriber_sink {
public:
  /// `delivered` counts the frames that went to the connection (the
  /// session's figure, shared by its sinks).
  subscription_sink(std::weak_ptr<connection> conn, std::shared_ptr<session_metrics> metrics,
                    std::shared_ptr<std::atomic<uint64_t>> delivered);

  void deliver(const std::vector<protocol::frame_ptr>& frames) override;

  /// From now on deliveries go straight to the connection, after those
  /// held until now. Call it after queuing the reply they must follow.
  void open();

  /// Nothing goes to the connection any more.
  void close();

private:
  enum class phase { held, open, closed };

  void forward(const std::vector<protocol::frame_ptr>& frames);

  std::mutex mu_; ///< orders deliver() against open() and close()
  phase phase_ = phase::held;
  std::vector<protocol::frame_ptr> held_;
  const std::weak_ptr<connection> conn_;
  const std::shared_ptr<session_metrics> metrics_;
  const std::shared_ptr<std::atomic<uint64_t>> delivered_;
};

/// The session's handle on a subscription's sink: closes it when the
/// subscription ends, however it ends (the map entry is erased, or the
/// session goes).
class sink_handle {
public:
  sink_handle() = default;
  explicit sink_handle(std::shared_ptr<subscription_sink> sink) : sink_(std::move(sink)) {}
  sink_handle(sink_handle&&) noexcept = default;
  sink_handle& operator=(sink_handle&& other) noexcept {
    if (this != &other) {
      reset();
      sink_ = std::move(other.sink_);
    }
    return *this;
  }
  sink_handle(const sink_handle&) = delete;
  sink_handle& operator=(const sink_handle&) = delete;
  ~sink_handle() {
    reset();
  }

  void open() {
    if (sink_)
      sink_->open();
  }

private:
  void reset() {
    if (sink_)
      sink_->close();
    sink_.reset();
  }

  std::shared_ptr<subscription_sink> sink_;
};

} // namespace herald::gateway
