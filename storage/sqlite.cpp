#include "storage/sqlite.hpp"

#include <sqlite3.h>

#include <utility>

namespace herald::storage {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::io:
      return "io";
    case errc::busy:
      return "busy";
    case errc::corrupt:
      return "corrupt";
    case errc::not_a_journal:
      return "not_a_journal";
    case errc::format_too_new:
      return "format_too_new";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::internal:
      return "internal";
  }
  return "internal";
}

errc classify(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return errc::io;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return errc::busy;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
      return errc::corrupt;
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return errc::invalid_argument;
    default:
      return errc::internal;
  }
}

namespace {

[[noreturn]] void raise(sqlite3* db, int rc, const std::string& path, std::string_view what) {
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  auto code = classify(rc);
  std::string msg = path + ": " + std::string(what) + ": " + detail;
  if (code == errc::corrupt)
    msg += " (the file is damaged or is not a herald database)";
  throw failure(code, msg);
}

} // namespace

namespace {

/// Process-wide SQLite settings, applied once before the first connection:
/// no global memory statistics (they take a mutex on every allocation).
void configure_sqlite_once() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void) done;
}

} // namespace

database::database(const std::string& path, mode m) : path_(path) {
  configure_sqlite_once();
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (m) {
    case mode::read_write_create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw failure(classify(rc), path + ": cannot open: " + detail);
  }
  sqlite3_extended_result_codes(db_, 1);
  // A reader may briefly find the WAL index being rebuilt by the writer.
  sqlite3_busy_timeout(db_, 5000);
}

database::~database() {
  sqlite3_close_v2(db_);
}

void database::check(int rc, std::string_view what) const {
  int primary = rc & 0xff;
  if (primary != SQLITE_OK && primary != SQLITE_ROW && primary != SQLITE_DONE)
    raise(db_, rc, path_, what);
}

void database::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string detail = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    auto code = classify(rc);
    throw failure(
      code,
      path_ + ": " + detail
        + (code == errc::corrupt ? " (the file is damaged or is not a herald database)" : ""));
  }
}

statement database::prepare(std::string_view sql) const {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK)
    raise(db_, rc, path_, "prepare");
  return statement(*this, stmt);
}

std::vector<statement> database::prepare_all(std::string_view sql) const {
  std::vector<statement> out;
  const char* rest = sql.data();
  const char* end = sql.data() + sql.size();
  while (rest < end) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, rest, static_cast<int>(end - rest), SQLITE_PREPARE_PERSISTENT,
                                &stmt, &tail);
    if (rc != SQLITE_OK)
      raise(db_, rc, path_, "prepare");
    if (stmt) // null for whitespace or a comment alone
      out.emplace_back(*this, stmt);
    if (!tail || tail == rest)
      break;
    rest = tail;
  }
  return out;
}

int64_t database::query_int(std::string_view sql) const {
  auto stmt = prepare(sql);
  return stmt.step() ? stmt.column_int(0) : 0;
}

int64_t database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int database::changes() const {
  return sqlite3_changes(db_);
}

bool database::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

statement::~statement() {
  sqlite3_finalize(stmt_);
}

statement::statement(statement&& other) noexcept
  : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

statement& statement::operator=(statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

statement& statement::bind(int index, int64_t value) {
  db_->check(sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

statement& statement::bind(int index, std::string_view text) {
  // A null pointer would bind SQL NULL; an empty value is not NULL.
  db_->check(sqlite3_bind_text64(stmt_, index, text.data() ? text.data() : "", text.size(),
                                 SQLITE_STATIC, SQLITE_UTF8),
             "bind");
  return *this;
}

statement& statement::bind_blob(int index, std::string_view bytes) {
  db_->check(sqlite3_bind_blob64(stmt_, index, bytes.data() ? bytes.data() : "", bytes.size(),
                                 SQLITE_STATIC),
             "bind");
  return *this;
}

statement& statement::bind_null(int index) {
  db_->check(sqlite3_bind_null(stmt_, index), "bind");
  return *this;
}

int statement::parameter_index(const char* name) const {
  return sqlite3_bind_parameter_index(stmt_, name);
}

int statement::parameter_count() const {
  return sqlite3_bind_parameter_count(stmt_);
}

const char* statement::parameter_name(int index) const {
  return sqlite3_bind_parameter_name(stmt_, index);
}

bool statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  db_->check(rc, "step");
  return false;
}

void statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t statement::column_int(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string_view statement::column_text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string_view();
}

std::string_view statement::column_blob(int col) const {
  auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string_view();
}

bool statement::column_is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

int statement::column_count() const {
  return sqlite3_column_count(stmt_);
}

const char* statement::column_name(int col) const {
  return sqlite3_column_name(stmt_, col);
}

int statement::column_type(int col) const {
  return sqlite3_column_type(stmt_, col);
}

double statement::column_double(int col) const {
  return sqlite3_column_double(stmt_, col);
}

} // namespace herald::storage
