#include "storage/event_id_index.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>

namespace herald::storage {

namespace {

void id_key_sql(sqlite3_context* ctx, int, sqlite3_value** argv) {
  try {
    const auto* hex = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    const auto* id = reinterpret_cast<const char*>(sqlite3_value_text(argv[2]));
    const id_hash_key key = parse_id_hash_key(hex ? hex : "");
    sqlite3_result_int64(
      ctx,
      id_key(key, sqlite3_value_int64(argv[1]),
             std::string_view(id ? id : "", static_cast<size_t>(sqlite3_value_bytes(argv[2])))));
  } catch (const std::exception& e) {
    sqlite3_result_error(ctx, e.what(), -1);
  }
}

id_hash_key read_hash_key(database& db) {
  auto select = db.prepare("SELECT value FROM journal_meta WHERE key = 'id_hash_key'");
  auto row = select.use();
  if (!row.step())
    throw failure(errc::corrupt, db.path() + ": the journal's id_hash_key is missing");
  return parse_id_hash_key(row.column_text(0));
}

} // namespace

void register_id_key_function(database& db) {
  db.check(sqlite3_create_function_v2(db.handle(), "herald_id_key", 3,
                                      SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, id_key_sql,
                                      nullptr, nullptr, nullptr),
           "registering herald_id_key");
}

event_id_index::event_id_index(database& db, uint64_t fold_every)
  : fold_every_(std::max<uint64_t>(fold_every, 1)), hash_key_(read_hash_key(db)),
    // Two ids may share a key: the stored event must have this very id.
    find_folded_(db.prepare("SELECT i.position FROM event_ids i JOIN events e "
                            "ON e.position = i.position "
                            "WHERE i.key = ?1 AND e.stream_id = ?2 AND e.id = ?3")),
    insert_folded_(db.prepare("INSERT INTO event_ids (key, position) VALUES (?1, ?2)")),
    set_fold_point_(db.prepare("UPDATE journal_meta SET value = ?1 "
                               "WHERE key = 'ids_indexed_through'")) {
  indexed_through_ = static_cast<uint64_t>(db.query_int(
    "SELECT CAST(value AS INTEGER) FROM journal_meta WHERE key = 'ids_indexed_through'"));
  auto scan_stmt = db.prepare("SELECT stream_id, id, position FROM events "
                              "WHERE position > ?1 AND id IS NOT NULL ORDER BY position");
  auto scan = scan_stmt.use();
  scan.bind(1, static_cast<int64_t>(indexed_through_));
  while (scan.step())
    add(scan.column_int(0), scan.column_text(1), static_cast<uint64_t>(scan.column_int(2)));
}

std::string event_id_index::tail_key(int64_t stream_id, std::string_view id) {
  std::string k(sizeof stream_id + id.size(), '\0');
  std::memcpy(k.data(), &stream_id, sizeof stream_id);
  std::memcpy(k.data() + sizeof stream_id, id.data(), id.size());
  return k;
}

std::optional<uint64_t> event_id_index::find(int64_t stream_id, std::string_view id) {
  if (auto it = positions_.find(tail_key(stream_id, id)); it != positions_.end())
    return it->second;
  auto row = find_folded_.use();
  row.bind(1, id_key(hash_key_, stream_id, id)).bind(2, stream_id).bind(3, id);
  if (row.step())
    return static_cast<uint64_t>(row.column_int(0));
  return std::nullopt;
}

void event_id_index::add(int64_t stream_id, std::string_view id, uint64_t position) {
  tail_.push_back({id_key(hash_key_, stream_id, id), stream_id, std::string(id), position});
  positions_.emplace(tail_key(stream_id, id), position);
}

void event_id_index::rollback(size_t mark) {
  for (size_t i = mark; i < tail_.size(); ++i)
    positions_.erase(tail_key(tail_[i].stream_id, tail_[i].id));
  tail_.resize(mark);
}

bool event_id_index::fold_if_due(uint64_t head, bool force) {
  if (head <= indexed_through_ || (!force && head - indexed_through_ < fold_every_))
    return false;
  // In key order, each insert lands next to the one before: a fold dirties
  // each index page it touches once, however many of its ids land there.
  std::vector<std::pair<int64_t, uint64_t>> sorted;
  sorted.reserve(tail_.size());
  for (const auto& e : tail_)
    sorted.emplace_back(e.key, e.position);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, position] : sorted)
    insert_folded_.use().bind(1, key).bind(2, static_cast<int64_t>(position)).run();
  const std::string through = std::to_string(head);
  set_fold_point_.use().bind(1, through).run();
  return true;
}

void event_id_index::folded(uint64_t head) {
  indexed_through_ = head;
  tail_.clear();
  positions_.clear();
}

} // namespace herald::storage
