// The journal's on-disk format, version 1. docs/journal-format.md describes it
// for operators and tools; change both together, and bump `version` for
// anything an older herald could misread.
#pragma once

#include <cstdint>

namespace herald::storage::journal_format {

/// SQLite's application_id header field: "hrld". Marks the file as ours.
inline constexpr int32_t application_id = 0x68726c64;

/// SQLite's user_version header field. A file with a higher value is refused.
inline constexpr int64_t version = 1;

/// The stream index lags the log by up to this many events: commits write
/// only the log, and every `index_fold_events` the tail is folded into
/// `stream_chunks`, one row per stream (see docs/journal-format.md).
inline constexpr uint64_t index_fold_events = 8192;

inline constexpr const char* schema = R"sql(
CREATE TABLE journal_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE streams (
  stream_id INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE
);

CREATE TABLE events (
  position  INTEGER PRIMARY KEY,
  stream_id INTEGER NOT NULL,
  version   INTEGER NOT NULL,
  type      TEXT NOT NULL,
  id        TEXT,
  time      INTEGER NOT NULL,
  meta      BLOB NOT NULL,
  data      BLOB NOT NULL
);

CREATE UNIQUE INDEX events_by_id ON events (id) WHERE id IS NOT NULL;

-- Versions first_version..last_version of a stream sit at the positions
-- listed in `positions`: LEB128 varints, the first position, then the gaps.
CREATE TABLE stream_chunks (
  stream_id     INTEGER NOT NULL,
  first_version INTEGER NOT NULL,
  last_version  INTEGER NOT NULL,
  positions     BLOB NOT NULL,
  PRIMARY KEY (stream_id, first_version)
) WITHOUT ROWID;

INSERT INTO journal_meta (key, value) VALUES ('indexed_through', '0');
)sql";

} // namespace herald::storage::journal_format
