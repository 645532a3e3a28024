// A thin RAII layer over the SQLite C API: a connection, its prepared
// statements, one use of a statement at a time (`cursor`) and transactions.
// Errors throw storage::failure with the file name and SQLite's own words,
// classified into errc (disk full -> io, malformed -> corrupt).
//
// The guards make leaving a scope safe however it is left: a `cursor` resets
// its statement and clears its bindings, a `transaction` that was not
// committed rolls back. Code above never calls reset or ROLLBACK by hand.
//
// None of these classes is thread-safe; each connection belongs to one actor.
#pragma once

#include "storage/errors.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace herald::storage {

class statement;
class cursor;
class transaction;

class database {
public:
  enum class mode : uint8_t { read_write_create, read_write, read_only };

  /// `uri`: ATTACH (and the path) may be file: URIs such as
  /// "file:x.db?mode=ro" (stream processors attach read models read-only).
  database(const std::string& path, mode m, bool uri = false);
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
  friend class transaction;
  enum class control : uint8_t { begin_deferred, begin_immediate, commit, rollback, count };
  /// BEGIN/COMMIT/ROLLBACK, prepared once on first use: a group commit runs
  /// them for every batch.
  statement& control_statement(control which);

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unique_ptr<statement> control_[static_cast<size_t>(control::count)];
};

/// A prepared statement. It is bound, stepped and read through a `cursor`
/// (use()), one at a time, so that every use starts from a reset statement
/// with no bindings left from the one before. Parameters are 1-based.
class statement {
public:
  statement(const database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  ~statement();
  statement(statement&& other) noexcept;
  statement& operator=(statement&& other) noexcept;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  /// Starts one use. A second use while the first is alive is a bug and
  /// throws failure(errc::internal) naming the statement.
  cursor use();

  /// Index of a named parameter such as ":room", or 0 when absent.
  int parameter_index(const char* name) const;
  int parameter_count() const;
  const char* parameter_name(int index) const;
  int column_count() const;
  const char* column_name(int col) const;
  /// Whether the statement cannot write (a SELECT).
  bool read_only() const;
  /// The SQL text, for messages.
  std::string_view sql() const;

  sqlite3_stmt* handle() const {
    return stmt_;
  }

private:
  friend class cursor;
  const database* db_;
  sqlite3_stmt* stmt_;
  bool in_use_ = false;
};

/// One use of a statement: bindings, steps and the columns of the current
/// row. Its destructor resets the statement and clears the bindings, on
/// every way out of the scope (return, break, exception).
class cursor {
public:
  explicit cursor(statement& s);
  ~cursor();
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;

  cursor& bind(int index, int64_t value);
  /// Text and blobs are bound by reference: they must outlive the cursor.
  cursor& bind(int index, std::string_view text);
  cursor& bind_blob(int index, std::string_view bytes);
  cursor& bind_null(int index);

  /// Advances; true when a row is available, false when done.
  bool step();
  /// Steps to the end, for statements that return no rows worth reading.
  void run();

  int64_t column_int(int col) const;
  std::string_view column_text(int col) const;
  std::string_view column_blob(int col) const;
  bool column_is_null(int col) const;
  int column_count() const;
  const char* column_name(int col) const;
  /// SQLite's fundamental type code of the column in the current row.
  int column_type(int col) const;
  double column_double(int col) const;

private:
  statement& s_;
};

/// One transaction: begun by the constructor (deferred: the first read
/// takes the snapshot; immediate: takes the write lock now), ended by
/// commit(). Left without commit() it rolls back, unless SQLite already did
/// (it does on some I/O errors); the destructor never throws. One at a time
/// per connection: a nested one is a bug and throws failure(errc::internal).
class transaction {
public:
  enum class kind : uint8_t { deferred, immediate };

  explicit transaction(database& db, kind k = kind::deferred);
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  /// Commits; throws failure (the transaction then rolls back when the
  /// guard goes out of scope). A second commit() is a bug (errc::internal).
  void commit();

private:
  database& db_;
  bool open_ = true;
};

/// Maps an SQLite result code to herald's error vocabulary.
errc classify(int sqlite_rc);

} // namespace herald::storage
