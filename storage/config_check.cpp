#include "storage/config_check.hpp"

#include "config/loader.hpp"
#include "storage/processor_sql.hpp"
#include "storage/query_runner.hpp"
#include "storage/read_model.hpp"
#include "storage/sqlite.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <optional>

namespace herald::storage {

namespace {

/// What SQLite refused, and where in the text when it says.
struct sql_problem {
  std::string message;
  std::optional<size_t> offset;
};

/// The file line of byte `offset` of a text that starts at `at`.
int line_of(const config::text_origin& at, std::string_view text, std::optional<size_t> offset) {
  if (!offset || !at.exact_lines)
    return at.line;
  auto upto = text.substr(0, std::min(*offset, text.size()));
  return at.line + static_cast<int>(std::count(upto.begin(), upto.end(), '\n'));
}

/// The offset of the first character that is not white space from `from`:
/// where a statement starts, for errors SQLite gives no offset for.
size_t skip_space(std::string_view text, size_t from) {
  while (from < text.size() && std::isspace(static_cast<unsigned char>(text[from])))
    ++from;
  return from;
}

/// Prepares each statement of `sql` in turn, and runs it when `run` (a
/// schema: a later statement may need an earlier one's table). Returns the
/// first problem with its byte offset in `sql`.
std::optional<sql_problem> compile(sqlite3* db, std::string_view sql, bool run) {
  const char* begin = sql.data();
  const char* end = begin + sql.size();
  const char* rest = begin;
  while (rest < end) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    auto start = static_cast<size_t>(rest - begin);
    int rc = sqlite3_prepare_v2(db, rest, static_cast<int>(end - rest), &stmt, &tail);
    if (rc != SQLITE_OK) {
      sql_problem p{sqlite3_errmsg(db), skip_space(sql, start)};
#if SQLITE_VERSION_NUMBER >= 3038000
      if (int at = sqlite3_error_offset(db); at >= 0)
        p.offset = start + static_cast<size_t>(at);
#endif
      return p;
    }
    if (stmt && run) {
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      }
      if (rc != SQLITE_DONE) {
        sql_problem p{sqlite3_errmsg(db), skip_space(sql, start)};
        sqlite3_finalize(stmt);
        return p;
      }
    }
    sqlite3_finalize(stmt);
    if (!tail || tail == rest)
      break;
    rest = tail;
  }
  return std::nullopt;
}

struct checker {
  const config::settings& s;

  std::string at(int line, const std::string& what) const {
    return config::one_line(s.source + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what);
  }

  std::string sql_error(const config::text_origin& origin, std::string_view text,
                        const std::string& part, const sql_problem& p) const {
    return at(line_of(origin, text, p.offset), part + ": SQL error: " + p.message);
  }

  /// Syntax, names and types through SQLite itself, with precise lines.
  std::string compile_projection(const config::projection_def& p) const {
    database db(":memory:", database::mode::read_write_create);
    // Every read model holds _herald; a query may read it.
    db.exec("CREATE TABLE _herald (key TEXT PRIMARY KEY, value) WITHOUT ROWID");
    std::string name = "projection \"" + p.name + "\"";
    if (auto bad = compile(db.handle(), p.schema, true))
      return sql_error(p.schema_at, p.schema, name + " schema", *bad);
    for (const auto& h : p.handlers)
      if (auto bad = compile(db.handle(), h.sql, false))
        return sql_error(h.sql_at, h.sql, name + " handler", *bad);
    for (const auto& q : s.query_defs)
      if (q.projection == p.name)
        if (auto bad = compile(db.handle(), q.sql, false))
          return sql_error(q.sql_at, q.sql, "query \"" + q.name + "\"", *bad);
    return "";
  }

  /// The rules on top of SQL (parameters, read-only queries), as the
  /// read model and the query runner apply them when the node starts.
  std::string herald_rules(const config::projection_def& p) const {
    int line = 0;
    if (auto problem = read_model::validate(p, line); !problem.empty()) {
      for (const auto& h : p.handlers)
        if (h.line == line)
          line = h.sql_at.line;
      return at(line, problem);
    }
    for (const auto& q : s.query_defs)
      if (q.projection == p.name)
        if (auto problem = query_runner::validate(q, p); !problem.empty())
          return at(q.sql_at.line, problem);
    return "";
  }
};

} // namespace

std::string check_definitions(const config::settings& s) {
  checker c{s};
  try {
    for (const auto& p : s.projection_defs) {
      if (auto problem = c.compile_projection(p); !problem.empty())
        return problem;
      if (auto problem = c.herald_rules(p); !problem.empty())
        return problem;
    }
    for (const auto& p : s.processor_defs)
      if (auto problem = processor_statement::validate(p, s.projection_defs); !problem.empty())
        return c.at(p.sql_at.line, problem);
  } catch (const failure& f) {
    return c.at(0, std::string("cannot check the SQL: ") + f.what());
  }
  return "";
}

} // namespace herald::storage
