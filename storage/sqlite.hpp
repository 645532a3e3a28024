// A thin RAII layer over the SQLite C API: a connection and its prepared
// statements. Errors throw storage::failure with the file name and SQLite's
// own words, classified into errc (disk full -> io, malformed -> corrupt).
//
// Neither class is thread-safe; each connection belongs to one actor.
#pragma once

#include "storage/errors.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace herald::storage {

class statement;

class database {
public:
  enum class mode : uint8_t { read_write_create, read_write, read_only };

  database(const std::string& path, mode m);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Runs one or more statements that return no rows worth reading.
  void exec(std::string_view sql);

  statement prepare(std::string_view sql) const;

  /// Prepares every statement of a script ("a; b; c"), skipping empty ones.
  std::vector<statement> prepare_all(std::string_view sql) const;

  /// Reads a single integer from a query such as "PRAGMA user_version".
  int64_t query_int(std::string_view sql) const;

  int64_t last_insert_rowid() const;
  int changes() const;
  bool in_transaction() const;

  /// Throws failure for a result code that is not OK/ROW/DONE.
  void check(int rc, std::string_view what) const;

  const std::string& path() const {
    return path_;
  }

  sqlite3* handle() const {
    return db_;
  }

private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

/// A prepared statement. Parameters are 1-based, as in SQLite.
class statement {
public:
  statement(const database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  ~statement();
  statement(statement&& other) noexcept;
  statement& operator=(statement&& other) noexcept;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  statement& bind(int index, int64_t value);
  /// Text and blobs are bound by reference: they must outlive step().
  statement& bind(int index, std::string_view text);
  statement& bind_blob(int index, std::string_view bytes);
  statement& bind_null(int index);
  /// Index of a named parameter such as ":room", or 0 when absent.
  int parameter_index(const char* name) const;
  int parameter_count() const;
  const char* parameter_name(int index) const;

  /// Advances; true when a row is available, false when done.
  bool step();
  /// Resets for re-use and clears bindings.
  void reset();

  int64_t column_int(int col) const;
  std::string_view column_text(int col) const;
  std::string_view column_blob(int col) const;
  bool column_is_null(int col) const;
  int column_count() const;
  const char* column_name(int col) const;
  /// SQLite's fundamental type code of the column in the current row.
  int column_type(int col) const;
  double column_double(int col) const;

  sqlite3_stmt* handle() const {
    return stmt_;
  }

private:
  const database* db_;
  sqlite3_stmt* stmt_;
};

/// Maps an SQLite result code to herald's error vocabulary.
errc classify(int sqlite_rc);

} // namespace herald::storage
