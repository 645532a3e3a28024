// Runs named queries over a read model file on a read-only connection: only
// bound parameters, a row limit, and a deadline enforced inside SQLite. The
// rows come back as a JSON array of objects, with the projection checkpoint
// read in the same snapshot (the position the rows reflect).
//
// Not thread-safe: one query actor owns it.
#pragma once

#include "config/settings.hpp"
#include "storage/sqlite.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace herald::storage {

/// Why a query could not run, in terms a REST client understands.
struct query_error {
  enum class kind : uint8_t { bad_request, timeout, unavailable, damaged };
  kind what;
  std::string message;
};

struct query_output {
  std::string rows_json; ///< [{"col":value,...},...]
  uint64_t rows = 0;
  uint64_t position = 0;
  bool truncated = false;
};

class query_runner {
public:
  /// Opens `path` read-only. Throws failure.
  explicit query_runner(const std::string& path);
  ~query_runner();

  const std::string& path() const;

  /// Runs `def` with `params` (strings from the request). Throws query_error.
  query_output run(const config::query_def& def, const std::map<std::string, std::string>& params,
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
