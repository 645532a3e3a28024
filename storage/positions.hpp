// The two counters of the journal, as distinct types where they cross an
// interface, so that one cannot be passed where the other is expected:
// - journal_position: an event's place in the whole journal (global,
//   gap-free, in commit order; 0 means "before the first event");
// - stream_version: an event's place in its stream (1, 2, 3...; 0 means "no
//   events"). A channel's offset is its stream's version.
// Both are plain values: explicit to make, `.value` to read, ordered.
#pragma once

#include <cstdint>

namespace herald::storage {

/// A plain counter tagged with what it counts.
template <class Tag>
struct counter_value {
  uint64_t value = 0;

  constexpr counter_value() = default;
  constexpr explicit counter_value(uint64_t v) : value(v) {}

  friend constexpr bool operator==(counter_value a, counter_value b) {
    return a.value == b.value;
  }
  friend constexpr bool operator!=(counter_value a, counter_value b) {
    return a.value != b.value;
  }
  friend constexpr bool operator<(counter_value a, counter_value b) {
    return a.value < b.value;
  }
  friend constexpr bool operator<=(counter_value a, counter_value b) {
    return a.value <= b.value;
  }
  friend constexpr bool operator>(counter_value a, counter_value b) {
    return a.value > b.value;
  }
  friend constexpr bool operator>=(counter_value a, counter_value b) {
    return a.value >= b.value;
  }
};

/// For CAF's serialization, found by argument-dependent lookup.
template <class Inspector, class Tag>
typename Inspector::result_type inspect(Inspector& f, counter_value<Tag>& x) {
  return f(x.value);
}

using journal_position = counter_value<struct journal_position_tag>;
using stream_version = counter_value<struct stream_version_tag>;

} // namespace herald::storage
