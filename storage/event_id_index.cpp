#include "storage/event_id_index.hpp"

#include <algorithm>
#include <cstring>

namespace herald::storage {

event_id_index::event_id_index(database& db, uint64_t fold_every)
  : fold_every_(std::max<uint64_t>(fold_every, 1)),
    find_folded_(db.prepare("SELECT position FROM event_ids WHERE stream_id = ?1 AND id = ?2")),
    insert_folded_(db.prepare("INSERT INTO event_ids (stream_id, id, position) "
                              "VALUES (?1, ?2, ?3)")),
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

std::string event_id_index::key(int64_t stream_id, std::string_view id) {
  std::string k(sizeof stream_id + id.size(), '\0');
  std::memcpy(k.data(), &stream_id, sizeof stream_id);
  std::memcpy(k.data() + sizeof stream_id, id.data(), id.size());
  return k;
}

std::optional<uint64_t> event_id_index::find(int64_t stream_id, std::string_view id) {
  if (auto it = positions_.find(key(stream_id, id)); it != positions_.end())
    return it->second;
  auto row = find_folded_.use();
  row.bind(1, stream_id).bind(2, id);
  if (row.step())
    return static_cast<uint64_t>(row.column_int(0));
  return std::nullopt;
}

void event_id_index::add(int64_t stream_id, std::string_view id, uint64_t position) {
  tail_.push_back({stream_id, std::string(id), position});
  positions_.emplace(key(stream_id, id), position);
}

void event_id_index::rollback(size_t mark) {
  for (size_t i = mark; i < tail_.size(); ++i)
    positions_.erase(key(tail_[i].stream_id, tail_[i].id));
  tail_.resize(mark);
}

bool event_id_index::fold_if_due(uint64_t head, bool force) {
  if (head <= indexed_through_ || (!force && head - indexed_through_ < fold_every_))
    return false;
  // In key order, each insert lands next to the one before: a fold dirties
  // each index page it touches once, however many of its ids land there.
  std::vector<const entry*> sorted;
  sorted.reserve(tail_.size());
  for (const auto& e : tail_)
    sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const entry* a, const entry* b) {
    return a->stream_id != b->stream_id ? a->stream_id < b->stream_id : a->id < b->id;
  });
  for (const entry* e : sorted)
    insert_folded_.use()
      .bind(1, e->stream_id)
      .bind(2, e->id)
      .bind(3, static_cast<int64_t>(e->position))
      .run();
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
