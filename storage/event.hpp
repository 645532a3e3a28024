// The journal's value types: what an append asks for, what it answers, and an
// event as recorded. Payloads (`data`) and metadata (`meta`) are msgpack bytes;
// the journal stores them as given and never interprets them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::storage {

/// What the stream's version must be for an append to go ahead (optimistic
/// concurrency). Versions count a stream's events: 0 means "no events".
struct expected_version {
  enum class kind : uint8_t { any, no_stream, exists, exact };
  kind k = kind::any;
  uint64_t version = 0; ///< only for kind::exact

  static expected_version any() {
    return {kind::any, 0};
  }
  static expected_version no_stream() {
    return {kind::no_stream, 0};
  }
  static expected_version exists() {
    return {kind::exists, 0};
  }
  static expected_version exact(uint64_t v) {
    return {kind::exact, v};
  }

  bool admits(uint64_t current) const {
    switch (k) {
      case kind::any:
        return true;
      case kind::no_stream:
        return current == 0;
      case kind::exists:
        return current > 0;
      case kind::exact:
        return current == version;
    }
    return false;
  }
};

/// An event to append.
struct new_event {
  std::string type;
  std::string id;   ///< unique within the stream; empty: the journal generates a UUID
  std::string meta; ///< msgpack map (user, client, correlation, causation...)
  std::string data; ///< msgpack payload
};

/// One append: events for one stream, all or nothing.
struct append_request {
  std::string stream;
  expected_version expected;
  std::vector<new_event> events;
};

enum class append_status : uint8_t {
  ok,                     ///< written now
  idempotent,             ///< every event was already stored under its id: nothing written
  wrong_expected_version, ///< the expectation failed; see actual_version
  duplicate_id,           ///< ids stored partly, elsewhere, or for other events
  invalid,                ///< malformed request (empty stream name, type...)
};

std::string_view to_string(append_status s);

struct append_result {
  append_status status = append_status::ok;
  uint64_t first_position = 0; ///< 0 when the append holds no events
  uint64_t last_position = 0;
  uint64_t first_version = 0;
  uint64_t last_version = 0;   ///< the stream's version after the append
  uint64_t actual_version = 0; ///< the stream's version when it was checked
  std::string message;         ///< why, for duplicate_id and invalid

  bool succeeded() const {
    return status == append_status::ok || status == append_status::idempotent;
  }
};

/// An event as the journal holds it.
struct recorded_event {
  uint64_t position = 0; ///< global, gap-free, in commit order
  std::string stream;
  uint64_t version = 0; ///< 1, 2, 3... within the stream
  std::string type;
  std::string id;
  int64_t time = 0; ///< unix milliseconds, stamped at commit
  std::string meta;
  std::string data;
};

/// A recorded event read in place: the views live as long as the read step.
struct event_view {
  uint64_t position = 0;
  std::string_view stream;
  uint64_t version = 0;
  std::string_view type;
  std::string_view id;
  int64_t time = 0;
  std::string_view meta;
  std::string_view data;

  recorded_event to_owned() const {
    return {position, std::string(stream), version,          std::string(type), std::string(id),
            time,     std::string(meta),   std::string(data)};
  }
};

/// A stream processor's output for some source events (docs/processors.md):
/// its derived events and its new checkpoint, written in one transaction or
/// not at all. The checkpoint moves by compare-and-set from `from` and
/// `generation`, so that a second instance of the processor (or a stale
/// retry, or output of the generation before a rebuild) cannot write twice.
///
/// With `rebuild`, no events: the generation moves from `generation` to
/// generation + 1 and the checkpoint to `to` (whatever it was: `from` is not
/// compared), so that the processor derives again after `to`.
struct processor_commit {
  std::string processor;
  uint64_t from = 0; ///< the checkpoint this output was derived after
  uint64_t to = 0;   ///< the last source position it covers
  std::vector<append_request> appends;
  uint64_t generation = 0; ///< the generation this output was derived in
  bool rebuild = false;
};

enum class processor_commit_status : uint8_t {
  ok,       ///< written: the checkpoint is `to`
  conflict, ///< the checkpoint was not `from` (see actual): nothing written
  rejected, ///< an append failed (see message): nothing written
};

struct processor_commit_result {
  processor_commit_status status = processor_commit_status::ok;
  uint64_t actual = 0; ///< the checkpoint found (ok: the new one)
  std::string message;
  uint64_t generation = 0; ///< the generation found (ok: the new one)
};

} // namespace herald::storage
