// A projection's read model: its own SQLite file holding the tables its
// schema declares, plus `_herald` with the checkpoint (the last journal
// position applied), the definition's fingerprint and whether the file is
// complete. Handlers run and the checkpoint moves in the same transaction, so
// the tables always equal the fold of the journal up to the checkpoint, even
// after a crash (invariant 3).
//
// Handler SQL binds named parameters from each event (docs/configuration.md):
// :stream :namespace :name :version :position :type :id :time :meta :data
// :user :client :private. Unknown parameters are an error when the model is
// opened. Events of private ('$') channels reach only handlers with
// include_private, and their :name keeps the '$' (never the same as a public
// channel's).
//
// Not thread-safe: one projection actor owns it.
#pragma once

#include "config/settings.hpp"
#include "storage/event.hpp"
#include "storage/sqlite.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace herald::storage {

/// What apply() did.
struct apply_result {
  uint64_t applied = 0;    ///< events given to handlers (matching or not)
  uint64_t checkpoint = 0; ///< the checkpoint afterwards
  bool failed = false;     ///< a handler failed at `failed_position`
  uint64_t failed_position = 0;
  std::string error;
};

class read_model {
public:
  /// Opens `path`, creating it (schema, empty checkpoint) when missing.
  /// Throws failure for an unusable file and invalid_argument for SQL that
  /// does not prepare. A `bulk` model is one being built (a rebuild): it
  /// trades crash safety for speed (no WAL, no syncs) until mark_complete(),
  /// which makes it a normal WAL file; an incomplete file is thrown away
  /// after a crash anyway.
  read_model(const std::string& path, const config::projection_def& def, bool bulk = false);
  ~read_model();
  read_model(const read_model&) = delete;
  read_model& operator=(const read_model&) = delete;

  const std::string& path() const;
  uint64_t checkpoint() const;

  /// False when the file was written for another definition (schema or
  /// handlers changed): its tables no longer mean what the config says.
  bool matches_definition() const;

  /// Whether the file was marked complete (rebuilds mark it at the end).
  bool complete() const;
  /// Marks it complete, and leaves bulk mode for WAL.
  void mark_complete();

  /// Applies the events with positions after the checkpoint, in one
  /// transaction with the new checkpoint. They must be contiguous from
  /// checkpoint + 1. If a handler fails, the events before the failing one
  /// are committed and the result says where it failed.
  apply_result apply(const std::vector<recorded_event>& events);
  apply_result apply(const std::vector<event_view>& events);

  /// Moves the checkpoint to `position` without applying (an operator
  /// skipping a poison event).
  void skip_to(uint64_t position);

  /// Writes a consistent, compact copy of the file to `path`.
  void copy_to(const std::string& path);

  /// The fingerprint of a definition: changes when its schema or handlers do.
  static std::string fingerprint(const config::projection_def& def);

  /// Checks a definition against an in-memory database: the schema runs and
  /// every handler statement prepares with known parameters. Returns the
  /// first problem, or "" when it is fine; `line` gets the config line of the
  /// part at fault.
  static std::string validate(const config::projection_def& def, int& line);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Reads the checkpoint and fingerprint of a read model file without
/// opening it for writing (for snapshots). Throws failure.
struct read_model_label {
  uint64_t checkpoint = 0;
  std::string fingerprint;
  bool complete = false;
};
read_model_label read_label(const std::string& path, bool verify);

} // namespace herald::storage
