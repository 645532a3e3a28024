// Node-wide counters of client sessions, shared by every session actor and
// read by /metrics: plain atomics, because sessions come and go by the
// thousand and asking each for numbers would cost more than counting.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace herald::gateway {

struct session_metrics {
  std::atomic<int64_t> connections{0}; ///< open now
  std::atomic<uint64_t> connections_total{0};
  std::atomic<int64_t> subscriptions{0}; ///< active now
  std::atomic<uint64_t> publishes{0};    ///< acknowledged client publishes and appends
  std::atomic<uint64_t> publish_errors{0};
  /// Appends refused as conflicts (wrong expected version, an id stored
  /// with another event): the caller's expectation, not a failure.
  std::atomic<uint64_t> publish_conflicts{0};

  /// Counts an append the journal answered with `conflict` or an error.
  void count_refused(bool conflict) {
    ++(conflict ? publish_conflicts : publish_errors);
  }
  /// Appends that waited in their session for websocket.max_appends_in_flight.
  std::atomic<uint64_t> appends_waited{0};
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> frames_out{0};          ///< protocol messages sent to clients
  std::atomic<uint64_t> disconnects{0};         ///< closed by the server with a code
  std::atomic<uint64_t> rate_limited{0};        ///< commands refused with 111
  std::atomic<uint64_t> slow_consumers{0};      ///< connections closed with 3008
  std::atomic<uint64_t> refused_connections{0}; ///< over max_connections (3504) or origin
  std::atomic<uint64_t> auth_failures{0};       ///< tokens refused (3500, 109, 103)

  /// Append latency (request to acknowledgement) histogram, in seconds.
  static constexpr std::array<double, 12> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  std::array<std::atomic<uint64_t>, bounds.size() + 1> latency_buckets{};
  std::atomic<uint64_t> latency_count{0};
  std::atomic<uint64_t> latency_sum_us{0};

  void observe_append(std::chrono::steady_clock::duration d) {
    double s = std::chrono::duration<double>(d).count();
    size_t i = 0;
    while (i < bounds.size() && s > bounds[i])
      ++i;
    ++latency_buckets[i];
    ++latency_count;
    latency_sum_us += static_cast<uint64_t>(s * 1e6);
  }
};

} // namespace herald::gateway
