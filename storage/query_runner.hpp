// Runs named queries over a read model file on a read-only connection: only
// bound parameters, a row limit, and a deadline enforced inside SQLite. The
// rows come back typed, as SQLite holds them (rendering them for a client is
// the caller's business), with the projection checkpoint read in the same
// snapshot (the position the rows reflect).
//
// Not thread-safe: one query actor owns it.
#pragma once

#include "config/settings.hpp"
#include "storage/result.hpp"
#include "storage/sqlite.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace herald::storage {

/// Why a query could not run, in terms a REST client understands.
struct query_error {
  enum class kind : uint8_t { bad_request, timeout, unavailable, damaged };
  kind what = kind::unavailable;
  std::string message;
};

/// Bytes SQLite holds as a BLOB (as opposed to TEXT).
struct blob {
  std::string bytes;
  bool operator==(const blob& other) const {
    return bytes == other.bytes;
  }
};

/// One column of a row: NULL (monostate), INTEGER, REAL, TEXT or BLOB.
using column_value = std::variant<std::monostate, int64_t, double, std::string, blob>;

struct query_rows {
  std::vector<std::string> columns;
  std::vector<std::vector<column_value>> rows; ///< each as long as `columns`
  uint64_t position = 0;                       ///< the checkpoint the rows reflect
  bool truncated = false;                      ///< the row limit cut the result
};

class query_runner {
public:
  /// Opens `path` read-only. Throws failure.
  explicit query_runner(const std::string& path);
  ~query_runner();

  const std::string& path() const;

  /// Runs `def` with `params` (strings from the request).
  result<query_rows, query_error> run(const config::query_def& def,
                                      const std::map<std::string, std::string>& params,
                                      size_t row_limit, std::chrono::milliseconds timeout);

  /// Checks a query against its projection's schema: it prepares, and every
  /// SQL parameter is declared. Returns the problem or "".
  static std::string validate(const config::query_def& def,
                              const config::projection_def& projection);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace herald::storage
