// Where each client-supplied event id is stored, per stream, for the journal
// writer's idempotency checks.
//
// A unique B-tree index on random ids would dirty about one page per event
// per commit, and the WAL would write every such page. So ids are indexed the
// way streams are: the ids of the events after the fold point (the *id tail*)
// are kept in memory, and every `fold_every` events they are inserted into
// the `event_ids` table in one bulk insert sorted by key (id_hash.hpp),
// inside the writer's transaction, together with the new fold point
// (journal_meta 'ids_indexed_through'). At open the tail is rebuilt from the events after
// the persisted fold point, so a crash loses nothing: the events and the fold
// point commit together.
//
// Memory: one entry per id in the tail, which holds at most `fold_every`
// events plus the batch that crossed the threshold.
//
// Not thread-safe: owned by the journal writer, which uses it inside its
// write transactions.
#pragma once

#include "storage/id_hash.hpp"
#include "storage/sqlite.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald::storage {

/// Registers herald_id_key(hex_key, stream_id, id) on `db`, the key of an id
/// for SQL (the upgrade from format 2 fills event_ids with it).
void register_id_key_function(database& db);

class event_id_index {
public:
  /// Rebuilds the id tail from the events after the persisted fold point.
  event_id_index(database& db, uint64_t fold_every);

  /// The position of the event stored under `id` in stream `stream_id`, if
  /// any; sees the ids added by the current transaction.
  std::optional<uint64_t> find(int64_t stream_id, std::string_view id);

  /// Records an id written by the current transaction at `position`.
  void add(int64_t stream_id, std::string_view id, uint64_t position);

  /// How far the tail goes now: rollback(mark()) forgets what was added
  /// after, when the transaction that added it rolls back.
  size_t mark() const {
    return tail_.size();
  }
  void rollback(size_t mark);

  /// Inside the writer's transaction: when the events after the fold point
  /// reach `fold_every` (or `force` and there are any), writes the tail to
  /// `event_ids` in key order and moves the fold point to `head`. Returns
  /// whether it did; the caller then calls folded() once the commit is done.
  bool fold_if_due(uint64_t head, bool force);

  /// After the commit of a fold: the tail is in the table now.
  void folded(uint64_t head);

private:
  struct entry {
    int64_t key; ///< id_key(), the order of a fold
    int64_t stream_id;
    std::string id;
    uint64_t position;
  };

  /// The key of the in-memory map: the stream id's bytes, then the id.
  static std::string tail_key(int64_t stream_id, std::string_view id);

  const uint64_t fold_every_;
  id_hash_key hash_key_;
  statement find_folded_, insert_folded_, set_fold_point_;
  uint64_t indexed_through_ = 0;
  std::vector<entry> tail_; ///< in position order
  /// key(stream_id, id) -> position, for every entry of tail_.
  std::unordered_map<std::string, uint64_t> positions_;
};

} // namespace herald::storage
