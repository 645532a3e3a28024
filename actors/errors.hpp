// The actor layer's error vocabulary, as CAF errors of category "herald".
// net/ maps each code to an HTTP status or a protocol error code in one place.
#pragma once

#include "storage/errors.hpp"

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <cstdint>
#include <string>

namespace herald::actors {

enum class errc : uint8_t {
  overloaded = 1, ///< a queue is full; try again later (temporary)
  unavailable,    ///< storage refused (disk full, I/O error); temporary
  damaged,        ///< storage is damaged; an operator must act
  bad_request,    ///< the request itself is wrong
  not_found,      ///< no such projection, query, stream...
  timeout,        ///< the operation ran out of time
  internal,       ///< a bug
};

std::string to_string(errc code);

/// True for errors a client may retry.
inline bool is_temporary(errc code) {
  return code == errc::overloaded || code == errc::unavailable || code == errc::timeout;
}

/// The herald code of `e`, or internal for errors of other categories.
errc code_of(const caf::error& e);

/// The message text carried by a herald error ("" when none).
std::string message_of(const caf::error& e);

/// Translates a storage failure.
caf::error from_failure(const storage::failure& f);

} // namespace herald::actors

CAF_ERROR_CODE_ENUM(herald::actors::errc, "herald")
