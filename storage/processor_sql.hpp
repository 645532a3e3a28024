// A stream processor's statement (docs/processors.md): one read-only SELECT
// run once per batch of source events, on a connection of its own that holds
// nothing but the batch (the eponymous virtual table `events`, read in place
// from the caller's vector: no copy, no write) and the processor's read
// models, attached read-only under their projection names. Each row it
// returns is one derived event: `channel`, `data` (JSON text), optionally
// `type`, `id` and `source_position` (the source event it derives from).
//
// The guards, since `sqlite3_stmt_readonly` alone lets BEGIN, ATTACH or
// PRAGMA through: the statement is prepared under an authorizer that allows
// only READ, SELECT, FUNCTION and RECURSIVE (kept installed, as SQLite
// re-prepares on schema changes), must be one statement with columns, no
// parameters, and runs under a deadline (progress handler).
//
// Not thread-safe: one processor actor owns it.
#pragma once

#include "config/settings.hpp"
#include "storage/event.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace herald::storage {

/// One row of a processor's statement.
struct derived_row {
  std::string channel;
  std::string data; ///< JSON text as the statement returned it (checked later)
  std::string type; ///< empty: the target namespace's default type
  std::string id;   ///< empty: a deterministic id (derived_event_id)
  std::optional<uint64_t> source_position;
  bool data_is_text = true; ///< false when `data` was not TEXT (a number, NULL, a blob)
};

/// The columns of the `events` table, in order (docs/processors.md).
extern const char* const events_table_columns[];

class processor_statement {
public:
  /// Opens the connection and prepares the statement (throws failure with
  /// SQLite's words). Read models named by `def.read_models` are attached
  /// with attach() before the first run.
  explicit processor_statement(const config::processor_def& def);
  ~processor_statement();
  processor_statement(const processor_statement&) = delete;
  processor_statement& operator=(const processor_statement&) = delete;

  /// Attaches read model `name` (a projection) from `path`, read-only,
  /// replacing the file attached under that name before.
  void attach(const std::string& name, const std::string& path);
  /// The path attached as `name`, or "" when none.
  std::string attached(const std::string& name) const;

  /// Runs the statement over `batch` in one read snapshot of the attached
  /// files. Throws failure: SQLite's errors as classified (io and busy are
  /// temporary), errc::invalid_argument past `timeout` or for more than
  /// `max_rows` rows.
  std::vector<derived_row> run(const std::vector<recorded_event>& batch, size_t max_rows,
                               std::chrono::milliseconds timeout);

  /// Checks a definition against its read models' schemas (each in an
  /// in-memory database attached under its name): prepares under the
  /// authorizer as one read-only statement with `channel` and `data`
  /// columns. Returns the first problem or "".
  static std::string validate(const config::processor_def& def,
                              const std::vector<config::projection_def>& projections);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Why a derived row may not be appended, or "": the channel is a valid name
/// in a configured namespace that lists `processor` as a writer and is not
/// private or user-limited, and `data` is one JSON value.
std::string check_derived_row(const config::settings& s, const std::string& processor,
                              const derived_row& row);

/// The id of the `ordinal`-th row (from 0) derived from the event at
/// `source_position` by `processor` in its `generation`: stable, so a
/// replayed batch derives the same ids, and new after each rebuild.
/// Generation 0 has no generation part (`<processor>-<position>-<n>`), so
/// ids derived before generations existed stay the same; later ones are
/// `<processor>-g<generation>-<position>-<n>`.
std::string derived_event_id(const std::string& processor, uint64_t generation,
                             uint64_t source_position, uint64_t ordinal);
/// The id of generation 0.
std::string derived_event_id(const std::string& processor, uint64_t source_position,
                             uint64_t ordinal);

/// The metadata of a derived event: `processor`, `generation` (when > 0),
/// `causation` (the source event's id, or "position:N" when it has none) and
/// `correlation` (the source's correlation id, else the causation: a chain
/// keeps the id of the event that started it). `source` null: the
/// processor's name (and generation) only.
std::string derived_meta(const std::string& processor, const recorded_event* source,
                         uint64_t generation = 0);

} // namespace herald::storage
