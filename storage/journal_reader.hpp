// A read-only connection to the journal. In WAL mode it reads a consistent
// snapshot and never waits for the writer. Each call runs in its own read
// transaction, so what it returns is consistent with itself (a stream's
// events and its current version come from the same snapshot).
//
// Stream reads combine the folded stream_chunks with the tail of the log that
// is not folded yet (see docs/journal-format.md). The reader keeps its own
// small in-memory index of that tail, extended incrementally on each call
// from the events committed since the last one.
//
// Not thread-safe: each reader actor owns one.
#pragma once

#include "storage/event.hpp"
#include "storage/journal_file.hpp"
#include "storage/sqlite.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald::storage {

enum class direction : uint8_t { forward, backward };

/// Some events of one stream, with the stream's version when they were read.
struct stream_slice {
  uint64_t version = 0; ///< the stream's current version (0: no such stream)
  std::vector<recorded_event> events;
};

class journal_reader {
public:
  /// Opens the journal read-only; the writer must have created it. Throws failure.
  explicit journal_reader(const std::string& path);
  ~journal_reader();
  journal_reader(const journal_reader&) = delete;
  journal_reader& operator=(const journal_reader&) = delete;

  const std::string& journal_id() const;

  /// Position of the last committed event (0 when empty).
  uint64_t head();

  /// Current version of a stream (0 when it has no events).
  uint64_t stream_version(std::string_view stream);

  /// Up to `limit` events of `stream`: forward from version `from`
  /// (inclusive), or backward from `from` (inclusive) towards version 1.
  /// Stops before the event that would take the events' stored size past
  /// `max_bytes` (but returns at least one), so a read of large events
  /// never loads more than that into memory.
  stream_slice read_stream(std::string_view stream, uint64_t from, direction dir, size_t limit,
                           size_t max_bytes = SIZE_MAX);

  /// What read_stream counts of an event against its max_bytes.
  static size_t stored_size(const recorded_event& e);

  /// The checkpoint of stream processor `name` (0: it has none yet).
  uint64_t processor_checkpoint(std::string_view name);

  /// The generation of stream processor `name`: how many times it was
  /// rebuilt (0: never, or a journal older than format 5).
  uint64_t processor_generation(std::string_view name);

  /// Up to `limit` events of the global log from position `from` (inclusive).
  std::vector<recorded_event> read_all(uint64_t from, size_t limit);

  /// Like read_all, but hands each event to `visit` in place, without
  /// copying; the view is valid only during the call. Returns the count.
  template <class Visit>
  size_t visit_all(uint64_t from, size_t limit, Visit&& visit);

private:
  struct tail_entry {
    uint64_t version;
    uint64_t position;
  };

  /// Runs `body` inside one read transaction.
  template <class Body>
  void in_snapshot(Body&& body);
  void refresh_tail();
  int64_t stream_id_of(std::string_view stream);
  uint64_t current_version(int64_t stream_id);
  event_view row_view(const cursor& row);
  /// Appends the event at `position` (of `stream`) to `out`.
  void fetch(uint64_t position, std::string_view stream, std::vector<recorded_event>& out);
  /// The folded (version, position) pairs of a stream, walking its chunks
  /// forward from `from` or backward from it, until `want` are found.
  void chunk_entries(int64_t stream_id, uint64_t from, direction dir, size_t want,
                     std::vector<tail_entry>& out);

  opened_journal file_;
  database& db_;
  std::string generated_id_; ///< storage for the id of the current row
  statement head_, find_stream_, index_max_, indexed_through_, scan_tail_;
  statement chunks_forward_, chunks_backward_, by_position_, log_;
  std::vector<uint64_t> decoded_;
  uint64_t folded_ = 0;  ///< stream_chunks covered up to here at the last refresh
  uint64_t scanned_ = 0; ///< tail_ holds the log up to here
  std::unordered_map<int64_t, std::vector<tail_entry>> tail_;
};

template <class Body>
void journal_reader::in_snapshot(Body&& body) {
  transaction snapshot(db_);
  body();
  snapshot.commit();
}

template <class Visit>
size_t journal_reader::visit_all(uint64_t from, size_t limit, Visit&& visit) {
  size_t n = 0;
  in_snapshot([&] {
    auto rows = log_.use();
    rows.bind(1, static_cast<int64_t>(from)).bind(2, static_cast<int64_t>(limit));
    while (rows.step()) {
      visit(row_view(rows));
      ++n;
    }
  });
  return n;
}

} // namespace herald::storage
