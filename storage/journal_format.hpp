// The journal's on-disk format, version 5. docs/journal-format.md describes it
// for operators and tools; change both together, bump `version` for anything
// an older herald could misread, and add a step to `migrations` so that a
// journal of the previous version is upgraded when the writer opens it.
#pragma once

#include <cstdint>

namespace herald::storage::journal_format {

/// SQLite's application_id header field: "hrld". Marks the file as ours.
inline constexpr int32_t application_id = 0x68726c64;

/// SQLite's user_version header field. A file with a higher value is refused;
/// one with a lower value is migrated by the writer (see `migrations`).
///  1: event ids unique across the journal.
///  2: event ids unique per stream (as in KurrentDB).
///  3: client ids indexed in bulk (`event_ids`), not by an index on events.
///  4: stream processors' checkpoints (`processor_checkpoints`).
///  5: a generation per stream processor (rebuild from a position).
inline constexpr int64_t version = 5;

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

-- Client-supplied ids, unique per stream, of the events up to
-- 'ids_indexed_through', by their key (SipHash-2-4 of stream id and id under
-- 'id_hash_key'); the writer keeps the later ones in memory and folds them in
-- here in bulk (see storage/event_id_index.hpp and storage/id_hash.hpp).
CREATE TABLE event_ids (
  key      INTEGER NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (key, position)
) WITHOUT ROWID;

-- Versions first_version..last_version of a stream sit at the positions
-- listed in `positions`: LEB128 varints, the first position, then the gaps.
CREATE TABLE stream_chunks (
  stream_id     INTEGER NOT NULL,
  first_version INTEGER NOT NULL,
  last_version  INTEGER NOT NULL,
  positions     BLOB NOT NULL,
  PRIMARY KEY (stream_id, first_version)
) WITHOUT ROWID;

-- The last source position each stream processor has derived events for,
-- written in the same transaction as those events (exactly once), and its
-- generation: how many times it was rebuilt (its derived ids carry it).
CREATE TABLE processor_checkpoints (
  name       TEXT PRIMARY KEY,
  position   INTEGER NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO journal_meta (key, value) VALUES ('indexed_through', '0');
INSERT INTO journal_meta (key, value) VALUES ('ids_indexed_through', '0');
INSERT INTO journal_meta (key, value) VALUES ('id_hash_key', lower(hex(randomblob(16))));
)sql";

/// migrations[v - 1] turns a journal of format v into one of format v + 1;
/// each runs in one transaction with the update of user_version, so a crash
/// leaves the file at either version. The result must equal `schema`.
inline constexpr const char* migrations[] = {
  // 1 -> 2: ids unique per stream. The old index was stricter (unique
  // across streams), so every version-1 journal satisfies the new one.
  R"sql(
DROP INDEX events_by_id;
CREATE UNIQUE INDEX events_by_stream_id ON events (stream_id, id) WHERE id IS NOT NULL;
)sql",
  // 2 -> 3: the ids move from the unique index on events into event_ids,
  // all of them folded, written in key order; the tail starts empty. Needs
  // herald_id_key (register_id_key_function).
  R"sql(
CREATE TABLE event_ids (
  key      INTEGER NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (key, position)
) WITHOUT ROWID;
INSERT INTO journal_meta (key, value) VALUES ('id_hash_key', lower(hex(randomblob(16))));
INSERT INTO event_ids (key, position)
  SELECT herald_id_key((SELECT value FROM journal_meta WHERE key = 'id_hash_key'), stream_id, id),
         position
  FROM events WHERE id IS NOT NULL ORDER BY 1, 2;
DROP INDEX events_by_stream_id;
INSERT INTO journal_meta (key, value)
  SELECT 'ids_indexed_through', CAST(ifnull(max(position), 0) AS TEXT) FROM events;
)sql",
  // 3 -> 4: stream processors start with no checkpoint.
  R"sql(
-- The last source position each stream processor has derived events for,
-- written in the same transaction as those events (exactly once).
CREATE TABLE processor_checkpoints (
  name     TEXT PRIMARY KEY,
  position INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
  // 4 -> 5: every processor is at generation 0. Not ALTER TABLE ADD COLUMN:
  // it would store a table definition worded unlike `schema`'s; the table is
  // made anew under `schema`'s very text and the checkpoints copied over.
  R"sql(
ALTER TABLE processor_checkpoints RENAME TO processor_checkpoints_4;
CREATE TABLE processor_checkpoints (
  name       TEXT PRIMARY KEY,
  position   INTEGER NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO processor_checkpoints (name, position, generation)
  SELECT name, position, 0 FROM processor_checkpoints_4;
DROP TABLE processor_checkpoints_4;
)sql",
};

static_assert(sizeof migrations / sizeof migrations[0] == version - 1,
              "one migration per format version");

} // namespace herald::storage::journal_format
