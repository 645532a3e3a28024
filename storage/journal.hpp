// The journal writer: the only connection that writes the journal file.
//
// append() writes a whole batch of appends in one SQLite transaction (group
// commit): every append is checked (expected version, event-id idempotency)
// against the state left by the appends before it in the same batch, the ones
// that pass are written, and a failed check fails only that append. Positions
// and versions are assigned inside the transaction, so they are gap-free and
// in commit order. With durability::full the commit returns only after the
// WAL was fsynced.
//
// Not thread-safe: one owner (the journal actor) calls it. Reads go through
// journal_reader on their own connections.
#pragma once

#include "config/settings.hpp"
#include "storage/event.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace herald::storage {

struct journal_options {
  std::string path;
  config::durability durability = config::durability::full;
  size_t stream_cache = 100000; ///< streams whose version is kept in memory
  /// Client ids are checked in memory for this many events after the last
  /// fold, then folded into the id table in bulk (event_id_index.hpp).
  uint64_t id_fold_events = 8192;
  bool verify_on_open = false;
  /// Leave WAL checkpoints to a journal_checkpointer on another thread, so
  /// that commits never pay for them; the writer then checkpoints only as a
  /// backstop, when the WAL passes 64 MiB. When false, SQLite checkpoints
  /// inside commits every 4 MiB (its default).
  bool background_checkpoints = false;
};

/// Moves WAL content into the journal file on its own connection, without
/// blocking the writer or readers (a PASSIVE checkpoint). Not thread-safe:
/// one owner (the checkpoint actor).
class journal_checkpointer {
public:
  explicit journal_checkpointer(const std::string& path);
  ~journal_checkpointer();

  /// Returns how many frames of the current WAL are now in the journal file
  /// (all of them unless a reader still needs older pages).
  int checkpoint();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

class journal {
public:
  /// Opens or creates the file. Throws failure.
  explicit journal(const journal_options& options);
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  const std::string& id() const;
  const std::string& path() const;

  /// Position of the last committed event (0 when empty).
  uint64_t head() const;

  /// Writes `batch` in one transaction; result i answers batch[i]. The
  /// requests' payloads are moved from. The events written are appended to
  /// `committed` (when given) in position order. Throws failure if the
  /// transaction itself fails (disk full, I/O error); nothing is then written
  /// and the journal stays usable.
  std::vector<append_result> append(std::vector<append_request>& batch,
                                    std::vector<recorded_event>* committed = nullptr);

  /// Writes a processor's derived events and moves its checkpoint from
  /// `c.from` to `c.to` (or, with c.rebuild, its generation to the next and
  /// its checkpoint to `c.to`), in one transaction of its own: all or nothing. The
  /// appends' payloads are moved from; the events written are appended to
  /// `committed` as by append(). Throws failure like append().
  processor_commit_result commit_processor(processor_commit& c,
                                           std::vector<recorded_event>* committed = nullptr);

  /// Folds the stream-index and id-index tails now (commits do it every
  /// journal_format::index_fold_events and journal_options::id_fold_events);
  /// for idle time and clean shutdown.
  void fold_index();

  /// Moves WAL content into the main file without blocking readers; call when
  /// idle so that commits rarely pay for it.
  void checkpoint();

  /// Fault injection for tests: caps the file at `pages` pages so that
  /// appends fail the way they do on a full disk (0 lifts the cap).
  void limit_pages_for_testing(int64_t pages);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace herald::storage
