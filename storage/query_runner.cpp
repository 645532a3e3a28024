#include "storage/query_runner.hpp"

#include "storage/msgpack_json.hpp"

#include <sqlite3.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

namespace herald::storage {

namespace {

using clock_type = std::chrono::steady_clock;

/// sqlite3_progress_handler callback: nonzero interrupts the statement.
int past_deadline(void* deadline) {
  return clock_type::now() > *static_cast<clock_type::time_point*>(deadline) ? 1 : 0;
}

void append_value(std::string& out, const statement& s, int col) {
  switch (s.column_type(col)) {
    case SQLITE_INTEGER:
      out += std::to_string(s.column_int(col));
      break;
    case SQLITE_FLOAT: {
      double d = s.column_double(col);
      if (!std::isfinite(d)) {
        out += "null";
        break;
      }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      out += buf;
      break;
    }
    case SQLITE_NULL:
      out += "null";
      break;
    case SQLITE_BLOB:
      append_json_string(out, s.column_blob(col));
      break;
    default:
      append_json_string(out, s.column_text(col));
      break;
  }
}

const config::query_param* find_param(const config::query_def& def, std::string_view name) {
  for (const auto& p : def.params)
    if (p.name == name)
      return &p;
  return nullptr;
}

} // namespace

struct query_runner::impl {
  database db;
  statement begin, end, checkpoint;
  std::unordered_map<std::string, statement> prepared;
  clock_type::time_point deadline;

  explicit impl(const std::string& path)
    : db(path, database::mode::read_only), begin(db.prepare("BEGIN")), end(db.prepare("COMMIT")),
      checkpoint(db.prepare("SELECT value FROM _herald WHERE key = 'checkpoint'")) {
    sqlite3_progress_handler(db.handle(), 1000, past_deadline, &deadline);
  }

  statement& statement_for(const config::query_def& def) {
    auto it = prepared.find(def.name);
    if (it == prepared.end())
      it = prepared.emplace(def.name, db.prepare(def.sql)).first;
    return it->second;
  }
};

query_runner::query_runner(const std::string& path) : impl_(std::make_unique<impl>(path)) {}

query_runner::~query_runner() = default;

const std::string& query_runner::path() const {
  return impl_->db.path();
}

query_output query_runner::run(const config::query_def& def,
                               const std::map<std::string, std::string>& params, size_t row_limit,
                               std::chrono::milliseconds timeout) {
  using kind = query_error::kind;
  for (const auto& [name, value] : params)
    if (!find_param(def, name))
      throw query_error{kind::bad_request,
                        "query " + def.name + " has no parameter \"" + name + "\""};
  auto& d = *impl_;
  statement* stmt = nullptr;
  try {
    stmt = &d.statement_for(def);
  } catch (const failure& f) {
    throw query_error{f.code() == errc::corrupt ? kind::damaged : kind::unavailable, f.what()};
  }
  // Values live until the statement is reset.
  std::vector<std::string> texts;
  texts.reserve(static_cast<size_t>(stmt->parameter_count()));
  for (int i = 1; i <= stmt->parameter_count(); ++i) {
    const char* raw = stmt->parameter_name(i);
    std::string_view name = raw ? std::string_view(raw + 1) : std::string_view();
    const auto* p = find_param(def, name);
    if (!p) // validated at start; only a changed file could get here
      throw query_error{kind::bad_request, "undeclared parameter " + std::string(name)};
    auto given = params.find(p->name);
    const std::string* value = given != params.end() ? &given->second
                               : p->default_value    ? &*p->default_value
                                                     : nullptr;
    if (!value) {
      if (p->required)
        throw query_error{kind::bad_request, "missing parameter \"" + p->name + "\""};
      stmt->bind_null(i);
      continue;
    }
    if (p->type == config::query_param::kind::integer) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(value->data(), value->data() + value->size(), v);
      if (ec != std::errc{} || ptr != value->data() + value->size() || value->empty())
        throw query_error{kind::bad_request, "parameter \"" + p->name + "\" must be an integer"};
      stmt->bind(i, v);
    } else {
      texts.push_back(*value);
      stmt->bind(i, texts.back());
    }
  }
  query_output out;
  d.deadline = clock_type::now() + timeout;
  try {
    d.begin.step();
    d.begin.reset();
    out.position = d.checkpoint.step() ? static_cast<uint64_t>(d.checkpoint.column_int(0)) : 0;
    d.checkpoint.reset();
    out.rows_json = "[";
    while (stmt->step()) {
      if (out.rows == row_limit) {
        out.truncated = true;
        break;
      }
      out.rows_json += out.rows ? ",{" : "{";
      for (int c = 0; c < stmt->column_count(); ++c) {
        if (c)
          out.rows_json += ',';
        append_json_string(out.rows_json, stmt->column_name(c));
        out.rows_json += ':';
        append_value(out.rows_json, *stmt, c);
      }
      out.rows_json += '}';
      ++out.rows;
    }
    out.rows_json += ']';
    stmt->reset();
    d.end.step();
    d.end.reset();
  } catch (const failure& f) {
    stmt->reset();
    d.checkpoint.reset();
    d.begin.reset();
    if (d.db.in_transaction()) {
      try {
        d.end.step();
      } catch (...) {
      }
      d.end.reset();
    }
    if (clock_type::now() > d.deadline)
      throw query_error{kind::timeout, "query " + def.name + " ran longer than "
                                         + std::to_string(timeout.count()) + "ms"};
    throw query_error{f.code() == errc::corrupt ? kind::damaged : kind::unavailable, f.what()};
  }
  return out;
}

std::string query_runner::validate(const config::query_def& def,
                                   const config::projection_def& projection) {
  std::string where = "query " + def.name + " (line " + std::to_string(def.line) + "): ";
  try {
    database db(":memory:", database::mode::read_write_create);
    db.exec("CREATE TABLE _herald (key TEXT PRIMARY KEY, value) WITHOUT ROWID");
    db.exec(projection.schema);
    auto stmts = db.prepare_all(def.sql);
    if (stmts.size() != 1)
      return where + "must be exactly one SQL statement";
    if (!sqlite3_stmt_readonly(stmts[0].handle()))
      return where + "must only read (SELECT)";
    for (int i = 1; i <= stmts[0].parameter_count(); ++i) {
      const char* raw = stmts[0].parameter_name(i);
      if (!raw)
        return where + "uses a positional parameter; name it (:name) and declare it";
      if (!find_param(def, raw + 1))
        return where + "uses " + std::string(raw) + ", which is not declared in its params";
    }
  } catch (const failure& f) {
    return where + f.what();
  }
  return "";
}

} // namespace herald::storage
