// Per-actor counters. CAF 0.17 has no telemetry, so every herald actor keeps
// these itself: messages handled, time spent handling them, and its mailbox
// depth sampled from inside (the only place CAF allows reading it). One
// `scope` per handled message; `stats()` answers stats_atom.
#pragma once

#include "actors/messages.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace herald::actors {

class counters {
public:
  using clock = std::chrono::steady_clock;

  /// Counts one message and the time until it goes out of scope.
  class scope {
  public:
    explicit scope(counters& c) : c_(c), start_(clock::now()) {}
    ~scope() {
      ++c_.messages_;
      c_.busy_ns_ += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start_).count());
    }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

  private:
    counters& c_;
    clock::time_point start_;
  };

  scope measure() {
    return scope(*this);
  }

  /// Samples the mailbox depth every 64 messages (and when asked for stats).
  template <class Self>
  void sample(Self* self, bool now = false) {
    if (now || (messages_ & 63) == 0) {
      mailbox_ = self->mailbox().size();
      if (mailbox_ > mailbox_max_)
        mailbox_max_ = mailbox_;
    }
  }

  uint64_t mailbox() const {
    return mailbox_;
  }

  actor_stats stats(std::string name, std::string role) const {
    actor_stats s;
    s.name = std::move(name);
    s.role = std::move(role);
    s.messages = messages_;
    s.busy_ns = busy_ns_;
    s.mailbox = mailbox_;
    s.mailbox_max = mailbox_max_;
    return s;
  }

private:
  uint64_t messages_ = 0;
  uint64_t busy_ns_ = 0;
  uint64_t mailbox_ = 0;
  uint64_t mailbox_max_ = 0;
};

} // namespace herald::actors
