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

database::database(const std::string& path, mode m, bool uri) : path_(path) {
  configure_sqlite_once();
  int flags = SQLITE_OPEN_NOMUTEX | (uri ? SQLITE_OPEN_URI : 0);
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
  for (auto& c : control_)
    c.reset(); // statements are finalized before the connection closes
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
  auto row = stmt.use();
  return row.step() ? row.column_int(0) : 0;
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

statement& database::control_statement(control which) {
  static constexpr const char* sql[] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};
  auto& slot = control_[static_cast<size_t>(which)];
  if (!slot)
    slot = std::make_unique<statement>(prepare(sql[static_cast<size_t>(which)]));
  return *slot;
}

statement::~statement() {
  sqlite3_finalize(stmt_);
}

statement::statement(statement&& other) noexcept
  : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)),
    in_use_(std::exchange(other.in_use_, false)) {}

statement& statement::operator=(statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    in_use_ = std::exchange(other.in_use_, false);
  }
  return *this;
}

cursor statement::use() {
  return cursor(*this);
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

int statement::column_count() const {
  return sqlite3_column_count(stmt_);
}

const char* statement::column_name(int col) const {
  return sqlite3_column_name(stmt_, col);
}

bool statement::read_only() const {
  return sqlite3_stmt_readonly(stmt_) != 0;
}

std::string_view statement::sql() const {
  const char* text = sqlite3_sql(stmt_);
  return text ? std::string_view(text) : std::string_view();
}

cursor::cursor(statement& s) : s_(s) {
  if (s.in_use_)
    throw failure(errc::internal, s.db_->path() + ": the statement \"" + std::string(s.sql())
                                    + "\" is already in use (a cursor on it is still alive)");
  s.in_use_ = true;
}

cursor::~cursor() {
  sqlite3_reset(s_.stmt_);
  sqlite3_clear_bindings(s_.stmt_);
  s_.in_use_ = false;
}

cursor& cursor::bind(int index, int64_t value) {
  s_.db_->check(sqlite3_bind_int64(s_.stmt_, index, value), "bind");
  return *this;
}

cursor& cursor::bind(int index, std::string_view text) {
  // A null pointer would bind SQL NULL; an empty value is not NULL.
  s_.db_->check(sqlite3_bind_text64(s_.stmt_, index, text.data() ? text.data() : "", text.size(),
                                    SQLITE_STATIC, SQLITE_UTF8),
                "bind");
  return *this;
}

cursor& cursor::bind_blob(int index, std::string_view bytes) {
  s_.db_->check(sqlite3_bind_blob64(s_.stmt_, index, bytes.data() ? bytes.data() : "", bytes.size(),
                                    SQLITE_STATIC),
                "bind");
  return *this;
}

cursor& cursor::bind_null(int index) {
  s_.db_->check(sqlite3_bind_null(s_.stmt_, index), "bind");
  return *this;
}

bool cursor::step() {
  int rc = sqlite3_step(s_.stmt_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  s_.db_->check(rc, "step");
  return false;
}

void cursor::run() {
  while (step()) {
  }
}

int64_t cursor::column_int(int col) const {
  return sqlite3_column_int64(s_.stmt_, col);
}

std::string_view cursor::column_text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_.stmt_, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_.stmt_, col)))
           : std::string_view();
}

std::string_view cursor::column_blob(int col) const {
  auto* p = static_cast<const char*>(sqlite3_column_blob(s_.stmt_, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_.stmt_, col)))
           : std::string_view();
}

bool cursor::column_is_null(int col) const {
  return sqlite3_column_type(s_.stmt_, col) == SQLITE_NULL;
}

int cursor::column_count() const {
  return sqlite3_column_count(s_.stmt_);
}

const char* cursor::column_name(int col) const {
  return sqlite3_column_name(s_.stmt_, col);
}

int cursor::column_type(int col) const {
  return sqlite3_column_type(s_.stmt_, col);
}

double cursor::column_double(int col) const {
  return sqlite3_column_double(s_.stmt_, col);
}

transaction::transaction(database& db, kind k) : db_(db) {
  if (db.in_transaction())
    throw failure(errc::internal, db.path()
                                    + ": a transaction is already open on this connection "
                                      "(transactions do not nest)");
  db.control_statement(k == kind::immediate ? database::control::begin_immediate
                                            : database::control::begin_deferred)
    .use()
    .run();
}

transaction::~transaction() {
  if (!open_ || !db_.in_transaction())
    return; // committed, or SQLite rolled back by itself (disk full does)
  try {
    db_.control_statement(database::control::rollback).use().run();
  } catch (...) {
    // Nothing better to do: the connection keeps the transaction until it
    // closes, and the next transaction reports it.
  }
}

void transaction::commit() {
  if (!open_)
    throw failure(errc::internal, db_.path() + ": the transaction was already committed");
  db_.control_statement(database::control::commit).use().run();
  open_ = false;
}

} // namespace herald::storage
