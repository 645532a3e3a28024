#include "storage/query_runner.hpp"

#include <sqlite3.h>

#include <charconv>
#include <unordered_map>

namespace herald::storage {

namespace {

using clock_type = std::chrono::steady_clock;
using kind = query_error::kind;

/// sqlite3_progress_handler callback: nonzero interrupts the statement.
int past_deadline(void* deadline) {
  return clock_type::now() > *static_cast<clock_type::time_point*>(deadline) ? 1 : 0;
}

column_value read_value(const cursor& row, int col) {
  switch (row.column_type(col)) {
    case SQLITE_INTEGER:
      return row.column_int(col);
    case SQLITE_FLOAT:
      return row.column_double(col);
    case SQLITE_NULL:
      return std::monostate{};
    case SQLITE_BLOB:
      return blob{std::string(row.column_blob(col))};
    default:
      return std::string(row.column_text(col));
  }
}

const config::query_param* find_param(const config::query_def& def, std::string_view name) {
  for (const auto& p : def.params)
    if (p.name == name)
      return &p;
  return nullptr;
}

unexpected<query_error> bad_request(std::string message) {
  return unexpected{query_error{kind::bad_request, std::move(message)}};
}

/// Every parameter of the request is one the query declares.
result<void, query_error> check_given(const config::query_def& def,
                                      const std::map<std::string, std::string>& params) {
  for (const auto& [name, value] : params)
    if (!find_param(def, name))
      return bad_request("query " + def.name + " has no parameter \"" + name + "\"");
  return {};
}

/// Binds the statement's parameters from the request, or their defaults.
/// Text values are kept in `texts`, which must outlive the cursor.
result<void, query_error> bind_params(cursor& rows, const statement& stmt,
                                      const config::query_def& def,
                                      const std::map<std::string, std::string>& params,
                                      std::vector<std::string>& texts) {
  texts.reserve(static_cast<size_t>(stmt.parameter_count()));
  for (int i = 1; i <= stmt.parameter_count(); ++i) {
    const char* raw = stmt.parameter_name(i);
    std::string_view name = raw ? std::string_view(raw + 1) : std::string_view();
    const auto* p = find_param(def, name);
    if (!p) // validated at start; only a changed file could get here
      return bad_request("undeclared parameter " + std::string(name));
    auto given = params.find(p->name);
    const std::string* value = given != params.end() ? &given->second
                               : p->default_value    ? &*p->default_value
                                                     : nullptr;
    if (!value) {
      if (p->required)
        return bad_request("missing parameter \"" + p->name + "\"");
      rows.bind_null(i);
      continue;
    }
    if (p->type == config::query_param::kind::integer) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(value->data(), value->data() + value->size(), v);
      if (ec != std::errc{} || ptr != value->data() + value->size() || value->empty())
        return bad_request("parameter \"" + p->name + "\" must be an integer");
      rows.bind(i, v);
    } else {
      texts.push_back(*value);
      rows.bind(i, texts.back());
    }
  }
  return {};
}

/// Up to `limit` rows; `out.truncated` when there were more.
void read_rows(cursor& rows, size_t limit, query_rows& out) {
  for (int c = 0; c < rows.column_count(); ++c) {
    const char* name = rows.column_name(c); // null only when out of memory
    out.columns.emplace_back(name ? name : "");
  }
  while (rows.step()) {
    if (out.rows.size() == limit) {
      out.truncated = true;
      break;
    }
    auto& row = out.rows.emplace_back();
    row.reserve(out.columns.size());
    for (int c = 0; c < rows.column_count(); ++c)
      row.push_back(read_value(rows, c));
  }
}

unexpected<query_error> unavailable(const failure& f) {
  return unexpected{
    query_error{f.code() == errc::corrupt ? kind::damaged : kind::unavailable, f.what()}};
}

} // namespace

struct query_runner::impl {
  database db;
  statement checkpoint;
  std::unordered_map<std::string, statement> prepared;
  clock_type::time_point deadline;

  explicit impl(const std::string& path)
    : db(path, database::mode::read_only),
      checkpoint(db.prepare("SELECT value FROM _herald WHERE key = 'checkpoint'")) {
    sqlite3_progress_handler(db.handle(), 1000, past_deadline, &deadline);
  }

  statement& statement_for(const config::query_def& def) {
    auto it = prepared.find(def.name);
    if (it == prepared.end())
      it = prepared.emplace(def.name, db.prepare(def.sql)).first;
    return it->second;
  }

  uint64_t read_checkpoint() {
    auto row = checkpoint.use();
    return row.step() ? static_cast<uint64_t>(row.column_int(0)) : 0;
  }
};

query_runner::query_runner(const std::string& path) : impl_(std::make_unique<impl>(path)) {}

query_runner::~query_runner() = default;

const std::string& query_runner::path() const {
  return impl_->db.path();
}

result<query_rows, query_error> query_runner::run(const config::query_def& def,
                                                  const std::map<std::string, std::string>& params,
                                                  size_t row_limit,
                                                  std::chrono::milliseconds timeout) {
  if (auto given = check_given(def, params); !given)
    return unexpected{std::move(given).error()};
  auto& d = *impl_;
  statement* stmt = nullptr;
  try {
    stmt = &d.statement_for(def);
  } catch (const failure& f) {
    return unavailable(f);
  }
  query_rows out;
  d.deadline = clock_type::now() + timeout;
  try {
    // The checkpoint and the rows come from one snapshot.
    transaction snapshot(d.db);
    {
      std::vector<std::string> texts; // outlives the cursor that binds them
      auto rows = stmt->use();
      if (auto bound = bind_params(rows, *stmt, def, params, texts); !bound)
        return unexpected{std::move(bound).error()};
      out.position = d.read_checkpoint();
      read_rows(rows, row_limit, out);
    }
    snapshot.commit();
  } catch (const failure& f) {
    if (clock_type::now() > d.deadline)
      return unexpected{query_error{kind::timeout, "query " + def.name + " ran longer than "
                                                     + std::to_string(timeout.count()) + "ms"}};
    return unavailable(f);
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
    if (!stmts[0].read_only())
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
