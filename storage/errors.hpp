// The storage layer's error vocabulary. Outcomes a caller expects (a version
// conflict, an idempotent re-append) are results, not errors; `failure` is
// thrown for what makes an operation impossible: I/O errors, damage, a file
// from a newer herald. The actor layer turns these into replies.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace herald::storage {

enum class errc : uint8_t {
  io,               ///< the disk refused (full, read-only, I/O error): temporary
  busy,             ///< the database was locked for longer than the timeout
  corrupt,          ///< the file is damaged or not a database
  not_a_journal,    ///< a valid SQLite file that herald did not write
  format_too_new,   ///< written by a newer herald; refused, never altered
  invalid_argument, ///< the caller passed something the format cannot hold
  internal,         ///< a bug: a statement that should not fail did
};

std::string_view to_string(errc code);

/// True for errors that may go away by themselves (disk space returns).
constexpr bool is_temporary(errc code) {
  return code == errc::io || code == errc::busy;
}

class failure : public std::runtime_error {
public:
  failure(errc code, const std::string& message) : std::runtime_error(message), code_(code) {}

  errc code() const noexcept {
    return code_;
  }

private:
  errc code_;
};

} // namespace herald::storage
