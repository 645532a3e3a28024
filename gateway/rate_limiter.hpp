// Per-connection rate limits (websocket.publish_rate, websocket.command_rate):
// a token bucket holding one second's worth, refilled continuously. A command
// over the limit is refused (the client gets 111, temporary, and may retry);
// a client that keeps being refused for longer than `persist` is told to go
// (close 3013), because a well-behaved client backs off after 111.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace herald::gateway {

class rate_limiter {
public:
  using clock = std::chrono::steady_clock;
  enum class verdict : uint8_t { allow, refuse, close };

  /// `per_second` 0 means no limit.
  explicit rate_limiter(int64_t per_second = 0,
                        std::chrono::milliseconds persist = std::chrono::seconds(1))
    : rate_(static_cast<double>(per_second)), tokens_(rate_), persist_(persist) {}

  verdict take(clock::time_point now) {
    if (rate_ <= 0)
      return verdict::allow;
    if (last_refill_ != clock::time_point{}) {
      std::chrono::duration<double> elapsed = now - last_refill_;
      tokens_ = std::min(rate_, tokens_ + elapsed.count() * rate_);
    }
    last_refill_ = now;
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return verdict::allow;
    }
    // A streak of refusals ends after a quiet second; one that lasts longer
    // than `persist` is a client ignoring 111.
    if (last_refusal_ == clock::time_point{} || now - last_refusal_ > std::chrono::seconds(1))
      streak_start_ = now;
    last_refusal_ = now;
    return now - streak_start_ >= persist_ ? verdict::close : verdict::refuse;
  }

private:
  double rate_;
  double tokens_;
  std::chrono::milliseconds persist_;
  clock::time_point last_refill_{};
  clock::time_point last_refusal_{};
  clock::time_point streak_start_{};
};

} // namespace herald::gateway
