#include "storage/journal_reader.hpp"

#include "storage/ids.hpp"
#include "storage/position_list.hpp"

#include <algorithm>
#include <limits>

namespace herald::storage {

namespace {

constexpr const char* event_columns =
  "e.position, s.name, e.version, e.type, e.id, e.time, e.meta, e.data";

std::string select_events(const char* from_where) {
  return std::string("SELECT ") + event_columns + " FROM " + from_where;
}

int64_t clamp(uint64_t v) {
  constexpr auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(v > max ? max : v);
}

} // namespace

journal_reader::journal_reader(const std::string& path)
  : file_(open_journal_file(path, false, false)), db_(*file_.db),
    head_(db_.prepare("SELECT max(position) FROM events")),
    find_stream_(db_.prepare("SELECT stream_id FROM streams WHERE name = ?1")),
    index_max_(db_.prepare("SELECT last_version FROM stream_chunks WHERE stream_id = ?1 "
                           "ORDER BY first_version DESC LIMIT 1")),
    indexed_through_(db_.prepare("SELECT CAST(value AS INTEGER) FROM journal_meta "
                                 "WHERE key = 'indexed_through'")),
    scan_tail_(db_.prepare("SELECT position, stream_id, version FROM events "
                           "WHERE position > ?1 ORDER BY position")),
    // From the chunk holding `from` onwards.
    chunks_forward_(
      db_.prepare("SELECT first_version, positions FROM stream_chunks WHERE stream_id = ?1 AND "
                  "first_version >= coalesce((SELECT max(first_version) FROM stream_chunks "
                  "WHERE stream_id = ?1 AND first_version <= ?2), 0) ORDER BY first_version ASC")),
    chunks_backward_(
      db_.prepare("SELECT first_version, positions FROM stream_chunks WHERE stream_id = ?1 AND "
                  "first_version <= ?2 ORDER BY first_version DESC")),
    by_position_(db_.prepare("SELECT position, version, type, id, time, meta, data "
                             "FROM events WHERE position = ?1")),
    log_(db_.prepare(select_events("events e JOIN streams s ON s.stream_id = e.stream_id "
                                   "WHERE e.position >= ?1 ORDER BY e.position LIMIT ?2"))) {
  // Readers scan large ranges; memory-mapping saves a copy per page.
  db_.exec("PRAGMA mmap_size = 268435456; PRAGMA cache_size = -32768");
}

journal_reader::~journal_reader() = default;

const std::string& journal_reader::journal_id() const {
  return file_.journal_id;
}

event_view journal_reader::row_view(const cursor& s) {
  auto position = static_cast<uint64_t>(s.column_int(0));
  std::string_view id = s.column_text(4);
  if (s.column_is_null(4)) {
    generated_id_ = generated_event_id(file_.journal_id, position);
    id = generated_id_;
  }
  return {position,
          s.column_text(1),
          static_cast<uint64_t>(s.column_int(2)),
          s.column_text(3),
          id,
          s.column_int(5),
          s.column_blob(6),
          s.column_blob(7)};
}

uint64_t journal_reader::head() {
  auto row = head_.use();
  return row.step() ? static_cast<uint64_t>(row.column_int(0)) : 0;
}

int64_t journal_reader::stream_id_of(std::string_view stream) {
  auto row = find_stream_.use();
  row.bind(1, stream);
  return row.step() ? row.column_int(0) : 0;
}

// Inside a snapshot: drops what the writer has folded since the last call and
// adds the events committed since then.
void journal_reader::refresh_tail() {
  uint64_t folded = 0;
  {
    auto row = indexed_through_.use();
    if (row.step())
      folded = static_cast<uint64_t>(row.column_int(0));
  }
  if (folded > folded_) {
    for (auto it = tail_.begin(); it != tail_.end();) {
      auto& entries = it->second;
      entries.erase(entries.begin(),
                    std::find_if(entries.begin(), entries.end(),
                                 [&](const tail_entry& t) { return t.position > folded; }));
      it = entries.empty() ? tail_.erase(it) : std::next(it);
    }
    folded_ = folded;
  }
  auto scan = scan_tail_.use();
  scan.bind(1, static_cast<int64_t>(std::max(scanned_, folded_)));
  while (scan.step()) {
    auto position = static_cast<uint64_t>(scan.column_int(0));
    tail_[scan.column_int(1)].push_back({static_cast<uint64_t>(scan.column_int(2)), position});
    scanned_ = position;
  }
}

uint64_t journal_reader::current_version(int64_t stream_id) {
  if (auto t = tail_.find(stream_id); t != tail_.end())
    return t->second.back().version;
  auto row = index_max_.use();
  row.bind(1, stream_id);
  return row.step() ? static_cast<uint64_t>(row.column_int(0)) : 0;
}

uint64_t journal_reader::stream_version(std::string_view stream) {
  uint64_t v = 0;
  in_snapshot([&] {
    refresh_tail();
    if (int64_t id = stream_id_of(stream); id != 0)
      v = current_version(id);
  });
  return v;
}

void journal_reader::fetch(uint64_t position, std::string_view stream,
                           std::vector<recorded_event>& out) {
  auto s = by_position_.use();
  s.bind(1, static_cast<int64_t>(position));
  if (s.step()) {
    recorded_event e{position,
                     std::string(stream),
                     static_cast<uint64_t>(s.column_int(1)),
                     std::string(s.column_text(2)),
                     s.column_is_null(3) ? generated_event_id(file_.journal_id, position)
                                         : std::string(s.column_text(3)),
                     s.column_int(4),
                     std::string(s.column_blob(5)),
                     std::string(s.column_blob(6))};
    out.push_back(std::move(e));
  }
}

void journal_reader::chunk_entries(int64_t stream_id, uint64_t from, direction dir, size_t want,
                                   std::vector<tail_entry>& out) {
  auto stmt = (dir == direction::forward ? chunks_forward_ : chunks_backward_).use();
  stmt.bind(1, stream_id).bind(2, clamp(from));
  while (out.size() < want && stmt.step()) {
    auto first = static_cast<uint64_t>(stmt.column_int(0));
    decoded_.clear();
    if (!decode_positions(stmt.column_blob(1), decoded_))
      throw failure(errc::corrupt, db_.path() + ": a stream chunk of stream "
                                     + std::to_string(stream_id) + " is malformed");
    if (dir == direction::forward) {
      for (size_t i = 0; i < decoded_.size() && out.size() < want; ++i)
        if (first + i >= from)
          out.push_back({first + i, decoded_[i]});
    } else {
      for (size_t i = decoded_.size(); i-- > 0 && out.size() < want;)
        if (first + i <= from)
          out.push_back({first + i, decoded_[i]});
    }
  }
}

size_t journal_reader::stored_size(const recorded_event& e) {
  return e.type.size() + e.id.size() + e.meta.size() + e.data.size();
}

stream_slice journal_reader::read_stream(std::string_view stream, uint64_t from, direction dir,
                                         size_t limit, size_t max_bytes) {
  stream_slice slice;
  in_snapshot([&] {
    refresh_tail();
    int64_t id = stream_id_of(stream);
    if (id == 0)
      return;
    slice.version = current_version(id);
    static const std::vector<tail_entry> no_tail;
    auto t = tail_.find(id);
    const auto& tail = t == tail_.end() ? no_tail : t->second;
    // The chunks hold a stream's older versions, the tail its newer ones.
    std::vector<tail_entry> wanted;
    if (dir == direction::forward) {
      chunk_entries(id, from, dir, limit, wanted);
      uint64_t next = wanted.empty() ? from : wanted.back().version + 1;
      for (const auto& entry : tail)
        if (entry.version >= next && wanted.size() < limit)
          wanted.push_back(entry);
    } else {
      for (auto it = tail.rbegin(); it != tail.rend() && wanted.size() < limit; ++it)
        if (it->version <= from)
          wanted.push_back(*it);
      uint64_t below = wanted.empty() ? from : std::min(from, wanted.back().version - 1);
      if (below > 0)
        chunk_entries(id, below, dir, limit, wanted);
    }
    slice.events.reserve(wanted.size());
    size_t bytes = 0;
    for (const auto& w : wanted) {
      fetch(w.position, stream, slice.events);
      if (slice.events.empty())
        continue;
      bytes += stored_size(slice.events.back());
      if (bytes > max_bytes && slice.events.size() > 1) {
        slice.events.pop_back(); // over the budget: the caller pages on
        break;
      }
    }
  });
  return slice;
}

uint64_t journal_reader::processor_checkpoint(std::string_view name) {
  // Prepared per call: it is read once when a processor starts.
  auto stmt = db_.prepare("SELECT position FROM processor_checkpoints WHERE name = ?1");
  auto row = stmt.use();
  row.bind(1, name);
  return row.step() ? static_cast<uint64_t>(row.column_int(0)) : 0;
}

uint64_t journal_reader::processor_generation(std::string_view name) {
  // Readers read older formats as they are: before format 5 there is none.
  if (db_.query_int("PRAGMA user_version") < 5)
    return 0;
  auto stmt = db_.prepare("SELECT generation FROM processor_checkpoints WHERE name = ?1");
  auto row = stmt.use();
  row.bind(1, name);
  return row.step() ? static_cast<uint64_t>(row.column_int(0)) : 0;
}

std::vector<recorded_event> journal_reader::read_all(uint64_t from, size_t limit) {
  std::vector<recorded_event> out;
  out.reserve(limit < 4096 ? limit : 4096);
  visit_all(from, limit, [&](const event_view& e) { out.push_back(e.to_owned()); });
  return out;
}

} // namespace herald::storage
