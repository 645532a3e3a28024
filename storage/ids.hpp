// Identifiers. Journal ids are random version-4 UUIDs. Event ids that the
// journal assigns (when the client gave none) are derived from the journal id
// and the event's position, so they are unique without being stored or
// indexed: `xxxxxxxx-xxxx-8000-8ppp-pppppppppppp`, where x is the start of
// the journal id and p the position in hex (a version-8 UUID).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace herald::storage {

class uuid_generator {
public:
  uuid_generator();
  /// A random version-4 UUID.
  std::string next();

private:
  std::mt19937_64 rng_;
};

/// The id of the event at `position` of the journal whose id is `journal_id`.
std::string generated_event_id(std::string_view journal_id, uint64_t position);

/// The position encoded in `id` if it has the form of an id this journal
/// generates; nullopt otherwise.
std::optional<uint64_t> generated_id_position(std::string_view journal_id, std::string_view id);

/// The value of a hex digit (either case), or -1 when `c` is none.
int hex_value(char c);

} // namespace herald::storage
