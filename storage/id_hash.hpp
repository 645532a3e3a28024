// The 64-bit key under which event_ids stores a client-supplied event id:
// SipHash-2-4 of the stream id and the event id, under a secret 128-bit key
// kept in the journal (journal_meta 'id_hash_key'). A small integer key keeps
// the id index a fraction of the size of one on the text, so that a fold
// touches fewer pages; the secret keeps clients from choosing ids that
// collide. Two ids may still share a key: every lookup compares the stored
// event's stream and id too.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::storage {

using id_hash_key = std::array<uint64_t, 2>;

/// Reads a key written as 32 hex digits; throws failure(corrupt) otherwise.
id_hash_key parse_id_hash_key(std::string_view hex);

/// The key of `id` in stream `stream_id`, as SQLite stores integers.
int64_t id_key(const id_hash_key& key, int64_t stream_id, std::string_view id);

} // namespace herald::storage
