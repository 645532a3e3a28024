#include "storage/journal.hpp"

#include "storage/event_id_index.hpp"
#include "storage/ids.hpp"
#include "storage/journal_file.hpp"
#include "storage/journal_format.hpp"
#include "storage/position_list.hpp"

#include <algorithm>
#include <sqlite3.h>

#include <chrono>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace herald::storage {

std::string_view to_string(append_status s) {
  switch (s) {
    case append_status::ok:
      return "ok";
    case append_status::idempotent:
      return "idempotent";
    case append_status::wrong_expected_version:
      return "wrong_expected_version";
    case append_status::duplicate_id:
      return "duplicate_id";
    case append_status::invalid:
      return "invalid";
  }
  return "invalid";
}

namespace {

struct stream_state {
  int64_t stream_id = 0; ///< 0: no row in `streams` yet
  uint64_t version = 0;
};

/// What the writer remembers of a stream: its committed state, and its state
/// within the batch being written (valid while `batch` matches).
struct stream_entry {
  stream_state committed;
  stream_state pending;
  uint64_t batch = 0;
  bool loaded = false;
};

/// An event of the tail: written to the log, not yet to stream_index.
struct tail_entry {
  int64_t stream_id;
  uint64_t version;
  uint64_t position;
};

/// A stream's part of the tail, as one stream_chunks row.
struct chunk {
  uint64_t first_version = 0;
  uint64_t last_version = 0;
  std::vector<uint64_t> positions;
};

/// Where an already stored event id lives, and whether the event stored
/// under it is the one a retry asks for.
struct stored_id {
  uint64_t position = 0;
  int64_t stream_id = 0;
  uint64_t version = 0;
  bool same_event = false; ///< same type and data bytes as the request's
};

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

struct journal::impl {
  opened_journal file;
  database& db;
  statement insert_event, insert_stream, find_stream, index_version, find_event, find_position;
  statement fold, set_indexed_through, read_checkpoint, write_checkpoint;
  event_id_index ids;
  uint64_t head = 0;
  /// Everything up to here is in stream_index; later events are the tail.
  uint64_t indexed_through = 0;
  /// The tail, in position order, and the last version of each stream in it.
  std::vector<tail_entry> tail;
  std::unordered_map<int64_t, uint64_t> tail_versions;
  size_t cache_limit;
  std::unordered_map<std::string, stream_entry> streams;
  uint64_t batch_number = 1;
  // Scratch space reused across batches.
  std::vector<stream_entry*> touched;

  explicit impl(const journal_options& o)
    : file(open_journal_file(o.path, true, true)), db(*file.db),
      insert_event(db.prepare("INSERT INTO events (position, stream_id, version, type, id, "
                              "time, meta, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")),
      insert_stream(db.prepare("INSERT INTO streams (name) VALUES (?1)")),
      find_stream(db.prepare("SELECT stream_id FROM streams WHERE name = ?1")),
      index_version(db.prepare("SELECT last_version FROM stream_chunks WHERE stream_id = ?1 "
                               "ORDER BY first_version DESC LIMIT 1")),
      find_event(db.prepare("SELECT stream_id, version, type, data FROM events "
                            "WHERE position = ?1")),
      find_position(db.prepare("SELECT stream_id, version, type, data FROM events "
                               "WHERE position = ?1 AND id IS NULL")),
      fold(db.prepare("INSERT INTO stream_chunks (stream_id, first_version, last_version, "
                      "positions) VALUES (?1, ?2, ?3, ?4)")),
      set_indexed_through(db.prepare("UPDATE journal_meta SET value = ?1 "
                                     "WHERE key = 'indexed_through'")),
      read_checkpoint(db.prepare("SELECT position, generation FROM processor_checkpoints "
                                 "WHERE name = ?1")),
      write_checkpoint(db.prepare("INSERT INTO processor_checkpoints (name, position, generation) "
                                  "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET "
                                  "position = excluded.position, "
                                  "generation = excluded.generation")),
      ids(db, o.id_fold_events), cache_limit(o.stream_cache) {
    db.exec(o.durability == config::durability::full ? "PRAGMA synchronous = FULL"
                                                     : "PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY");
    if (o.background_checkpoints)
      db.exec("PRAGMA wal_autocheckpoint = 16384");
    if (o.verify_on_open)
      verify_journal(db);
    head = static_cast<uint64_t>(db.query_int("SELECT max(position) FROM events"));
    indexed_through = static_cast<uint64_t>(db.query_int(
      "SELECT CAST(value AS INTEGER) FROM journal_meta WHERE key = 'indexed_through'"));
    auto scan_stmt = db.prepare("SELECT stream_id, version, position FROM events "
                                "WHERE position > ?1 ORDER BY position");
    auto scan = scan_stmt.use();
    scan.bind(1, static_cast<int64_t>(indexed_through));
    while (scan.step()) {
      tail.push_back({scan.column_int(0), static_cast<uint64_t>(scan.column_int(1)),
                      static_cast<uint64_t>(scan.column_int(2))});
      tail_versions[tail.back().stream_id] = tail.back().version;
    }
  }

  /// The state of a stream within the current batch; one lookup per append.
  stream_entry& stream(const std::string& name) {
    auto& en = streams.try_emplace(name).first->second;
    if (!en.loaded) {
      en.committed = load_stream(name);
      en.loaded = true;
    }
    if (en.batch != batch_number) {
      en.pending = en.committed;
      en.batch = batch_number;
      touched.push_back(&en);
    }
    return en;
  }

  /// The committed state of a stream, from the file.
  stream_state load_stream(const std::string& name) {
    stream_state st;
    {
      auto row = find_stream.use();
      row.bind(1, name);
      if (row.step())
        st.stream_id = row.column_int(0);
    }
    if (st.stream_id == 0)
      return st;
    if (auto t = tail_versions.find(st.stream_id); t != tail_versions.end()) {
      st.version = t->second;
    } else {
      auto row = index_version.use();
      row.bind(1, st.stream_id);
      if (row.step())
        st.version = static_cast<uint64_t>(row.column_int(0));
    }
    return st;
  }

  /// Whether the row `stmt` stands on (type in column 2, data in column 3)
  /// holds the event `e`. Meta is not compared: it describes the sender
  /// (client, user), which a retry may legitimately change.
  static bool same_event(const cursor& row, const new_event& e) {
    return row.column_text(2) == e.type && row.column_blob(3) == e.data;
  }

  /// Where the client-supplied id of `e` is stored in the stream `stream_id`
  /// (0: a stream with no events yet), if anywhere. Generated ids name one
  /// event of the whole journal, so they are looked up wherever they are;
  /// sets `reserved` for one that names no generated event. The statements
  /// see the rows this batch wrote before, inside the same transaction.
  std::optional<stored_id> lookup_id(const new_event& e, int64_t stream_id, bool& reserved) {
    std::optional<stored_id> found;
    if (auto position = generated_id_position(file.journal_id, e.id)) {
      auto row = find_position.use();
      row.bind(1, static_cast<int64_t>(*position));
      if (row.step())
        found = stored_id{*position, row.column_int(0), static_cast<uint64_t>(row.column_int(1)),
                          same_event(row, e)};
      reserved = !found;
      return found;
    }
    if (stream_id == 0)
      return found;
    if (auto position = ids.find(stream_id, e.id)) {
      auto row = find_event.use();
      row.bind(1, static_cast<int64_t>(*position));
      if (!row.step())
        throw failure(errc::corrupt, db.path() + ": event id " + e.id + " is indexed at position "
                                       + std::to_string(*position) + ", which holds no event");
      found = stored_id{*position, stream_id, static_cast<uint64_t>(row.column_int(1)),
                        same_event(row, e)};
    }
    return found;
  }

  /// Idempotency: returns true (and fills `result`) when the append's event
  /// ids decide its outcome: all already stored, consecutively, in this
  /// stream, each with the same type and data (idempotent), or only partly,
  /// elsewhere or with other content (duplicate_id).
  bool check_ids(const append_request& req, const stream_state& st, append_result& result) {
    bool any_client_id = false;
    for (const auto& e : req.events)
      any_client_id |= !e.id.empty();
    if (!any_client_id)
      return false;
    std::unordered_set<std::string_view> seen;
    std::vector<std::optional<stored_id>> found;
    size_t hits = 0;
    for (const auto& e : req.events) {
      bool reserved = false;
      if (!e.id.empty() && !seen.insert(e.id).second) {
        result.status = append_status::invalid;
        result.message = "event id " + e.id + " appears twice in one append";
        return true;
      }
      found.push_back(e.id.empty() ? std::nullopt : lookup_id(e, st.stream_id, reserved));
      if (reserved) {
        result.status = append_status::invalid;
        result.message = "event id " + e.id + " has the form of ids the journal assigns";
        return true;
      }
      hits += found.back().has_value();
    }
    if (hits == 0)
      return false;
    // The same events at consecutive versions of this very stream: the same
    // append, retried.
    bool same_place = hits == req.events.size();
    bool same_events = same_place;
    for (size_t i = 0; same_place && i < found.size(); ++i) {
      same_place = st.stream_id != 0 && found[i]->stream_id == st.stream_id
                   && found[i]->version == found[0]->version + i;
      same_events = same_events && found[i]->same_event;
    }
    result.actual_version = st.version;
    if (same_place && same_events) {
      result.status = append_status::idempotent;
      result.first_position = found.front()->position;
      result.last_position = found.back()->position;
      result.first_version = found.front()->version;
      result.last_version = found.back()->version;
      return true;
    }
    result.status = append_status::duplicate_id;
    result.message = same_place ? "the event ids are already stored in this stream, for events "
                                  "with another type or data"
                     : hits == req.events.size()
                       ? "the event ids are already stored, but not as this append"
                       : "some event ids of this append are already stored, others are not";
    return true;
  }

  /// Inserts the events of `req` at versions st.version + 1 on.
  void insert_events(const append_request& req, stream_state& st, int64_t time) {
    for (const auto& e : req.events) {
      ++head;
      ++st.version;
      auto insert = insert_event.use();
      insert.bind(1, static_cast<int64_t>(head))
        .bind(2, st.stream_id)
        .bind(3, static_cast<int64_t>(st.version))
        .bind(4, e.type)
        .bind(6, time)
        .bind_blob(7, e.meta)
        .bind_blob(8, e.data);
      if (e.id.empty())
        insert.bind_null(5); // derived from the position when read
      else
        insert.bind(5, e.id);
      insert.run();
      if (!e.id.empty())
        ids.add(st.stream_id, e.id, head);
      tail.push_back({st.stream_id, st.version, head});
    }
  }

  /// Why `req` cannot be stored at all, or nullptr.
  static const char* malformed(const append_request& req) {
    if (req.stream.empty())
      return "the stream name is empty";
    for (const auto& e : req.events)
      if (e.type.empty())
        return "an event has an empty type";
    return nullptr;
  }

  void write(std::vector<append_request>& batch, std::vector<append_result>& results,
             std::vector<recorded_event>* committed) {
    const int64_t time = now_ms();
    for (size_t i = 0; i < batch.size(); ++i) {
      auto& req = batch[i];
      auto& result = results[i];
      if (const char* why = malformed(req)) {
        result.status = append_status::invalid;
        result.message = why;
        continue;
      }
      auto& entry = stream(req.stream);
      stream_state& st = entry.pending;
      // Stored ids decide an append before its expected version does.
      if (check_ids(req, st, result))
        continue;
      result.actual_version = st.version;
      if (!req.expected.admits(st.version)) {
        result.status = append_status::wrong_expected_version;
        continue;
      }
      result.status = append_status::ok;
      result.last_version = st.version;
      if (req.events.empty())
        continue;
      if (st.stream_id == 0) {
        insert_stream.use().bind(1, req.stream).run();
        st.stream_id = db.last_insert_rowid();
      }
      result.first_position = head + 1;
      result.first_version = st.version + 1;
      insert_events(req, st, time);
      if (committed)
        for (size_t k = 0; k < req.events.size(); ++k) {
          auto& e = req.events[k];
          const uint64_t position = result.first_position + k;
          committed->push_back(recorded_event{
            position, req.stream, result.first_version + k, std::move(e.type),
            e.id.empty() ? generated_event_id(file.journal_id, position) : std::move(e.id), time,
            std::move(e.meta), std::move(e.data)});
        }
      result.last_position = head;
      result.last_version = st.version;
    }
  }

  /// Which indexes a transaction folded its tail into.
  struct folds {
    bool streams = false;
    bool ids = false;
  };

  /// Folds each index whose tail has grown long enough (or every non-empty
  /// one when `force`), inside the batch's transaction.
  folds fold_if_due(bool force) {
    return {fold_streams_if_due(force), ids.fold_if_due(head, force)};
  }

  /// Moves the tail into stream_chunks when it has grown long enough: one
  /// row per stream listing its new positions. Returns whether it did.
  bool fold_streams_if_due(bool force) {
    if (tail.empty() || (!force && tail.size() < journal_format::index_fold_events))
      return false;
    // Group by stream in one pass; the tail is in position order already.
    std::unordered_map<int64_t, chunk> chunks;
    for (const auto& t : tail) {
      auto& c = chunks[t.stream_id];
      if (c.positions.empty())
        c.first_version = t.version;
      c.last_version = t.version;
      c.positions.push_back(t.position);
    }
    for (const auto& [stream_id, c] : chunks) {
      const std::string blob = encode_positions(c.positions);
      fold.use()
        .bind(1, stream_id)
        .bind(2, static_cast<int64_t>(c.first_version))
        .bind(3, static_cast<int64_t>(c.last_version))
        .bind_blob(4, blob)
        .run();
    }
    const std::string through = std::to_string(head);
    set_indexed_through.use().bind(1, through).run();
    return true;
  }

  /// Runs `body` in one write transaction. On failure everything the batch
  /// changed in memory is undone and the failure rethrown.
  template <class Body>
  void transaction(Body&& body) {
    const uint64_t head_before = head;
    const size_t tail_before = tail.size();
    const size_t ids_before = ids.mark();
    touched.clear();
    try {
      storage::transaction tx(db, storage::transaction::kind::immediate);
      body();
      tx.commit();
    } catch (...) {
      head = head_before;
      tail.resize(tail_before);
      ids.rollback(ids_before);
      touched.clear();
      ++batch_number; // forgets every pending state of this batch
      throw;
    }
  }

  /// After a commit: remember stream versions, and forget the tails folded.
  void committed_batch(folds done) {
    if (done.ids)
      ids.folded(head);
    const bool folded = done.streams;
    if (folded) {
      indexed_through = head;
      tail.clear();
      tail_versions.clear();
    }
    for (auto* en : touched) {
      en->committed = en->pending;
      if (!folded && en->committed.version > 0)
        tail_versions[en->committed.stream_id] = en->committed.version;
    }
    touched.clear();
    ++batch_number;
    if (streams.size() > cache_limit)
      streams.clear(); // crude, but the file is the truth and misses are cheap
  }
};

journal::journal(const journal_options& options) : impl_(std::make_unique<impl>(options)) {}

journal::~journal() = default;

const std::string& journal::id() const {
  return impl_->file.journal_id;
}

const std::string& journal::path() const {
  return impl_->db.path();
}

uint64_t journal::head() const {
  return impl_->head;
}

std::vector<append_result> journal::append(std::vector<append_request>& batch,
                                           std::vector<recorded_event>* committed) {
  auto& d = *impl_;
  std::vector<append_result> results(batch.size());
  const size_t committed_before = committed ? committed->size() : 0;
  impl::folds folded;
  try {
    d.transaction([&] {
      d.write(batch, results, committed);
      folded = d.fold_if_due(false);
    });
  } catch (...) {
    if (committed)
      committed->resize(committed_before);
    throw;
  }
  d.committed_batch(folded);
  return results;
}

namespace {

/// Unwinds a processor commit that must leave nothing behind.
struct abandon_commit {
  processor_commit_result result;
};

/// Why a processor commit may not be written over the checkpoint
/// `actual` of generation `generation`, or nothing.
std::optional<processor_commit_result> refusal(const processor_commit& c, uint64_t actual,
                                               uint64_t generation) {
  if (generation != c.generation)
    return processor_commit_result{processor_commit_status::conflict, actual,
                                   "the generation is " + std::to_string(generation) + ", not "
                                     + std::to_string(c.generation),
                                   generation};
  if (!c.rebuild && actual != c.from)
    return processor_commit_result{processor_commit_status::conflict, actual,
                                   "the checkpoint is " + std::to_string(actual) + ", not "
                                     + std::to_string(c.from),
                                   generation};
  if (c.rebuild && !c.appends.empty())
    return processor_commit_result{processor_commit_status::rejected, actual,
                                   "a rebuild derives nothing itself", generation};
  return std::nullopt;
}

} // namespace

processor_commit_result journal::commit_processor(processor_commit& c,
                                                  std::vector<recorded_event>* committed) {
  auto& d = *impl_;
  std::vector<append_result> results(c.appends.size());
  const size_t committed_before = committed ? committed->size() : 0;
  const uint64_t generation = c.rebuild ? c.generation + 1 : c.generation;
  impl::folds folded;
  try {
    d.transaction([&] {
      uint64_t actual = 0;
      uint64_t actual_generation = 0;
      {
        auto row = d.read_checkpoint.use();
        row.bind(1, c.processor);
        if (row.step()) {
          actual = static_cast<uint64_t>(row.column_int(0));
          actual_generation = static_cast<uint64_t>(row.column_int(1));
        }
      }
      if (auto refused = refusal(c, actual, actual_generation))
        throw abandon_commit{std::move(*refused)};
      d.write(c.appends, results, committed);
      for (size_t i = 0; i < results.size(); ++i)
        if (!results[i].succeeded())
          throw abandon_commit{{processor_commit_status::rejected, actual,
                                "the append to " + c.appends[i].stream
                                  + " failed: " + std::string(to_string(results[i].status))
                                  + (results[i].message.empty() ? "" : ": " + results[i].message),
                                actual_generation}};
      d.write_checkpoint.use()
        .bind(1, c.processor)
        .bind(2, static_cast<int64_t>(c.to))
        .bind(3, static_cast<int64_t>(generation))
        .run();
      folded = d.fold_if_due(false);
    });
  } catch (abandon_commit& a) {
    if (committed)
      committed->resize(committed_before);
    return std::move(a.result);
  } catch (...) {
    if (committed)
      committed->resize(committed_before);
    throw;
  }
  d.committed_batch(folded);
  return {processor_commit_status::ok, c.to, "", generation};
}

void journal::fold_index() {
  auto& d = *impl_;
  impl::folds folded;
  d.transaction([&] { folded = d.fold_if_due(true); });
  d.committed_batch(folded);
}

void journal::checkpoint() {
  impl_->db.exec("PRAGMA wal_checkpoint(PASSIVE)");
}

struct journal_checkpointer::impl {
  database db;
  explicit impl(const std::string& path) : db(path, database::mode::read_write) {
    // A connection opens the WAL only with its first read; until then SQLite
    // treats it as not in WAL mode and every checkpoint is a no-op.
    db.query_int("SELECT count(*) FROM sqlite_master");
  }
};

journal_checkpointer::journal_checkpointer(const std::string& path)
  : impl_(std::make_unique<impl>(path)) {}

journal_checkpointer::~journal_checkpointer() = default;

int journal_checkpointer::checkpoint() {
  int log = 0, done = 0;
  int rc =
    sqlite3_wal_checkpoint_v2(impl_->db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY)
    impl_->db.check(rc, "checkpoint");
  return done;
}

void journal::limit_pages_for_testing(int64_t pages) {
  impl_->db.exec("PRAGMA max_page_count = " + std::to_string(pages > 0 ? pages : 4294967294));
}

} // namespace herald::storage
