#include "storage/processor_sql.hpp"

#include "config/channel_rules.hpp"
#include "config/loader.hpp"
#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"
#include "storage/sqlite.hpp"

#include <rapidjson/reader.h>
#include <rapidjson/stream.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <map>

namespace herald::storage {

const char* const events_table_columns[] = {
  "stream", "namespace", "name",   "version", "position", "type",           "id",
  "time",   "user",      "client", "meta",    "data",     "correlation_id", "causation_id",
};

namespace {

using clock_type = std::chrono::steady_clock;

enum column : int {
  c_stream,
  c_namespace,
  c_name,
  c_version,
  c_position,
  c_type,
  c_id,
  c_time,
  c_user,
  c_client,
  c_meta,
  c_data,
  c_correlation,
  c_causation,
  column_count_
};

constexpr const char* events_schema =
  "CREATE TABLE x(stream TEXT, namespace TEXT, name TEXT, version INTEGER, position INTEGER, "
  "type TEXT, id TEXT, time INTEGER, user TEXT, client TEXT, meta TEXT, data TEXT, "
  "correlation_id TEXT, causation_id TEXT)";

/// The authorizer of a processor's connection: the statement may only read.
/// `admin` is set while herald itself attaches or detaches read models.
struct guard {
  bool admin = false;
};

/// What the `events` module reads: the batch of the run in progress (none
/// between runs, and while validating).
struct batch_source {
  const std::vector<recorded_event>* events = nullptr;
  guard* g = nullptr; ///< declaring the table's columns needs the authorizer's leave
};

struct events_vtab {
  sqlite3_vtab base{};
  batch_source* source = nullptr;
};

struct events_cursor {
  sqlite3_vtab_cursor base{};
  size_t row = 0;
  /// The decoded metadata of the current row, read at most once per row.
  bool meta_read = false;
  event_meta meta;
  /// The current row's data as JSON, converted at most once per row: a
  /// statement reads `data` once per expression that names it, and once
  /// more for every row a join (json_each over the mentions) makes of it.
  bool data_read = false;
  bool data_ok = false;
  std::string data_json;
};

size_t batch_size(const events_vtab* t) {
  return t->source->events ? t->source->events->size() : 0;
}

int vt_connect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char** err) {
  auto* src = static_cast<batch_source*>(aux);
  const bool was_admin = src->g->admin;
  src->g->admin = true;
  int rc = sqlite3_declare_vtab(db, events_schema);
  src->g->admin = was_admin;
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    return rc;
  }
  auto* t = new events_vtab;
  t->source = static_cast<batch_source*>(aux);
  *out = &t->base;
  return SQLITE_OK;
}

int vt_disconnect(sqlite3_vtab* v) {
  delete reinterpret_cast<events_vtab*>(v);
  return SQLITE_OK;
}

int vt_best_index(sqlite3_vtab* v, sqlite3_index_info* info) {
  // A full scan is all it offers; the row count lets the planner order joins.
  auto rows =
    static_cast<double>(std::max<size_t>(batch_size(reinterpret_cast<events_vtab*>(v)), 1));
  info->estimatedCost = rows;
  info->estimatedRows = static_cast<sqlite3_int64>(rows);
  return SQLITE_OK;
}

int vt_open(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  auto* c = new events_cursor;
  *out = &c->base;
  return SQLITE_OK;
}

int vt_close(sqlite3_vtab_cursor* c) {
  delete reinterpret_cast<events_cursor*>(c);
  return SQLITE_OK;
}

int vt_filter(sqlite3_vtab_cursor* c, int, const char*, int, sqlite3_value**) {
  auto* cur = reinterpret_cast<events_cursor*>(c);
  cur->row = 0;
  cur->meta_read = false;
  cur->data_read = false;
  return SQLITE_OK;
}

int vt_next(sqlite3_vtab_cursor* c) {
  auto* cur = reinterpret_cast<events_cursor*>(c);
  ++cur->row;
  cur->meta_read = false;
  cur->data_read = false;
  return SQLITE_OK;
}

int vt_eof(sqlite3_vtab_cursor* c) {
  auto* cur = reinterpret_cast<events_cursor*>(c);
  return cur->row >= batch_size(reinterpret_cast<events_vtab*>(c->pVtab)) ? 1 : 0;
}

void result_text(sqlite3_context* ctx, std::string_view text) {
  sqlite3_result_text(ctx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

/// meta and data are msgpack in the journal; the statement sees JSON text.
void result_json(sqlite3_context* ctx, std::string_view msgpack) {
  std::string json;
  if (!msgpack_to_json(msgpack, json)) {
    sqlite3_result_null(ctx);
    return;
  }
  result_text(ctx, json);
}

void result_optional(sqlite3_context* ctx, const std::string& text) {
  if (text.empty())
    sqlite3_result_null(ctx);
  else
    result_text(ctx, text);
}

int vt_column(sqlite3_vtab_cursor* c, sqlite3_context* ctx, int col) {
  auto* cur = reinterpret_cast<events_cursor*>(c);
  const auto& e = (*reinterpret_cast<events_vtab*>(c->pVtab)->source->events)[cur->row];
  auto meta = [&]() -> const event_meta& {
    if (!cur->meta_read) {
      cur->meta = decode_meta(e.meta);
      cur->meta_read = true;
    }
    return cur->meta;
  };
  std::string_view stream = e.stream;
  auto ns = config::namespace_name(stream);
  auto colon = stream.find(':');
  switch (col) {
    case c_stream:
      result_text(ctx, stream);
      break;
    case c_namespace:
      result_text(ctx, ns);
      break;
    case c_name:
      // As projection handlers see it: the part after "namespace:", with a
      // private channel's '$' kept.
      result_text(ctx, colon == std::string_view::npos
                         ? stream
                         : std::string(stream.substr(0, stream[0] == '$' ? 1 : 0))
                             + std::string(stream.substr(colon + 1)));
      break;
    case c_version:
      sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(e.version));
      break;
    case c_position:
      sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(e.position));
      break;
    case c_type:
      result_text(ctx, e.type);
      break;
    case c_id:
      result_optional(ctx, e.id);
      break;
    case c_time:
      sqlite3_result_int64(ctx, e.time);
      break;
    case c_user:
      result_optional(ctx, meta().user);
      break;
    case c_client:
      result_optional(ctx, meta().client);
      break;
    case c_meta:
      result_json(ctx, e.meta);
      break;
    case c_data:
      if (!cur->data_read) {
        cur->data_json.clear();
        cur->data_ok = msgpack_to_json(e.data, cur->data_json);
        cur->data_read = true;
      }
      if (cur->data_ok)
        result_text(ctx, cur->data_json);
      else
        sqlite3_result_null(ctx);
      break;
    case c_correlation:
      result_optional(ctx, meta().correlation);
      break;
    case c_causation:
      result_optional(ctx, meta().causation);
      break;
    default:
      sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

int vt_rowid(sqlite3_vtab_cursor* c, sqlite3_int64* out) {
  *out = static_cast<sqlite3_int64>(reinterpret_cast<events_cursor*>(c)->row);
  return SQLITE_OK;
}

/// Eponymous-only (no xCreate): `events` exists in every connection that
/// registers it, and CREATE VIRTUAL TABLE cannot make another.
sqlite3_module make_events_module() {
  sqlite3_module m{};
  m.iVersion = 1;
  m.xCreate = nullptr;
  m.xConnect = vt_connect;
  m.xBestIndex = vt_best_index;
  m.xDisconnect = vt_disconnect;
  m.xDestroy = vt_disconnect;
  m.xOpen = vt_open;
  m.xClose = vt_close;
  m.xFilter = vt_filter;
  m.xNext = vt_next;
  m.xEof = vt_eof;
  m.xColumn = vt_column;
  m.xRowid = vt_rowid;
  return m;
}

const sqlite3_module events_module = make_events_module();

int authorize(void* arg, int action, const char* a1, const char*, const char* db, const char*) {
  if (static_cast<guard*>(arg)->admin)
    return SQLITE_OK;
  switch (action) {
    case SQLITE_READ:
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_UPDATE:
      // Connecting a table-valued function (json_each) declares its columns,
      // which SQLite 3.40 authorizes as updates of the schema table's columns; a
      // real write is refused anyway (stmt_readonly, query_only, defensive).
      return std::strcmp(a1 ? a1 : "", "sqlite_master") == 0
                 && std::strcmp(db ? db : "", "main") == 0
               ? SQLITE_OK
               : SQLITE_DENY;
    default:
      return SQLITE_DENY;
  }
}

int past_deadline(void* deadline) {
  return clock_type::now() > *static_cast<clock_type::time_point*>(deadline) ? 1 : 0;
}

/// `name` quoted as an SQL identifier.
std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"')
      out += '"';
  }
  return out + "\"";
}

/// A read-only file: URI for `path` (characters URIs treat specially are
/// percent-encoded).
std::string read_only_uri(const std::string& path, const char* mode = "ro") {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out = "file:";
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (c == '%' || c == '?' || c == '#' || u < 0x20 || u >= 0x7f) {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "?mode=" + mode;
}

/// Whether only white space and comments remain in `tail`.
bool blank(const char* tail) {
  std::string_view t(tail ? tail : "");
  while (!t.empty()) {
    if (std::isspace(static_cast<unsigned char>(t.front()))) {
      t.remove_prefix(1);
    } else if (t.substr(0, 2) == "--") {
      auto nl = t.find('\n');
      t = nl == std::string_view::npos ? std::string_view() : t.substr(nl + 1);
    } else if (t.substr(0, 2) == "/*") {
      auto end = t.find("*/", 2);
      if (end == std::string_view::npos)
        return false;
      t.remove_prefix(end + 2);
    } else {
      return false;
    }
  }
  return true;
}

/// The column roles of a prepared statement: indexes, or -1.
struct output_columns {
  int channel = -1, data = -1, type = -1, id = -1, source_position = -1;
};

/// Why the prepared statement cannot be a processor's, or "".
std::string check_prepared(sqlite3_stmt* stmt, const char* tail, output_columns& out) {
  if (!blank(tail))
    return "must be exactly one SQL statement";
  if (!sqlite3_stmt_readonly(stmt) || sqlite3_column_count(stmt) == 0)
    return "must be one read-only SELECT";
  if (sqlite3_bind_parameter_count(stmt) > 0)
    return "takes no parameters (the batch is the table `events`)";
  for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
    std::string name = sqlite3_column_name(stmt, i) ? sqlite3_column_name(stmt, i) : "";
    int* slot = name == "channel"           ? &out.channel
                : name == "data"            ? &out.data
                : name == "type"            ? &out.type
                : name == "id"              ? &out.id
                : name == "source_position" ? &out.source_position
                                            : nullptr;
    if (!slot)
      return "returns a column \"" + name
             + "\"; a processor's columns are channel, data, type, id and source_position";
    if (*slot >= 0)
      return "returns the column \"" + name + "\" twice";
    *slot = i;
  }
  if (out.channel < 0)
    return "must return a column named channel";
  if (out.data < 0)
    return "must return a column named data";
  return "";
}

/// Prepares `sql` on `db` under `g`; throws failure(invalid_argument) with
/// the reason when it cannot be a processor's statement.
statement prepare_checked(database& db, const std::string& sql, output_columns& cols) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail);
  if (rc != SQLITE_OK) {
    std::string why = sqlite3_errmsg(db.handle());
    sqlite3_finalize(raw);
    if (why == "not authorized")
      why = "not authorized: a processor's statement may only read (one SELECT)";
    throw failure(errc::invalid_argument, "SQL error: " + why);
  }
  if (!raw)
    throw failure(errc::invalid_argument, "must be one read-only SELECT (the SQL is empty)");
  statement stmt(db, raw);
  if (auto why = check_prepared(raw, tail, cols); !why.empty())
    throw failure(errc::invalid_argument, why);
  return stmt;
}

std::string text_of(const cursor& row, int col) {
  return col < 0 || row.column_is_null(col) ? std::string() : std::string(row.column_text(col));
}

/// A fresh name for the shared in-memory databases of one validation.
std::string scratch_name() {
  static std::atomic<uint64_t> next{0};
  return "herald-processor-check-" + std::to_string(next++);
}

} // namespace

struct processor_statement::impl {
  config::processor_def def;
  batch_source source;
  guard g;
  database db;
  std::map<std::string, std::string> attached;
  output_columns cols;
  std::unique_ptr<statement> stmt;
  clock_type::time_point deadline = clock_type::time_point::max();

  explicit impl(const config::processor_def& d)
    : def(d), db(":memory:", database::mode::read_write_create, true) {
    source.g = &g;
    db.check(sqlite3_create_module_v2(db.handle(), "events", &events_module, &source, nullptr),
             "register the events table");
    sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    db.exec("PRAGMA query_only = 1");
    sqlite3_set_authorizer(db.handle(), authorize, &g);
    sqlite3_progress_handler(db.handle(), 1000, past_deadline, &deadline);
  }

  /// Runs herald's own statement (ATTACH, DETACH) past the authorizer.
  void admin(const std::string& sql) {
    g.admin = true;
    try {
      db.exec(sql);
    } catch (...) {
      g.admin = false;
      throw;
    }
    g.admin = false;
  }
};

processor_statement::processor_statement(const config::processor_def& def)
  : impl_(std::make_unique<impl>(def)) {}

processor_statement::~processor_statement() = default;

void processor_statement::attach(const std::string& name, const std::string& path) {
  auto& d = *impl_;
  // The statement refers to the schema: drop it before the schema changes;
  // the next run prepares it again.
  d.stmt.reset();
  if (d.attached.count(name)) {
    d.admin("DETACH DATABASE " + quoted(name));
    d.attached.erase(name);
  }
  std::string uri = read_only_uri(path);
  std::string sql = "ATTACH DATABASE '";
  for (char c : uri) {
    sql += c;
    if (c == '\'')
      sql += '\'';
  }
  d.admin(sql + "' AS " + quoted(name));
  d.attached[name] = path;
}

std::string processor_statement::attached(const std::string& name) const {
  auto it = impl_->attached.find(name);
  return it == impl_->attached.end() ? std::string() : it->second;
}

std::vector<derived_row> processor_statement::run(const std::vector<recorded_event>& batch,
                                                  size_t max_rows,
                                                  std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  if (!d.stmt)
    d.stmt = std::make_unique<statement>(prepare_checked(d.db, d.def.sql, d.cols));
  std::vector<derived_row> out;
  d.source.events = &batch;
  d.deadline = clock_type::now() + timeout;
  struct reset_source {
    batch_source& s;
    ~reset_source() {
      s.events = nullptr;
    }
  } reset{d.source};
  try {
    // One snapshot across the attached read models; no read transaction is
    // held between runs (it would pin the WAL and starve checkpoints).
    d.g.admin = true;
    transaction snapshot(d.db);
    d.g.admin = false;
    {
      auto rows = d.stmt->use();
      while (rows.step()) {
        if (out.size() == max_rows)
          throw failure(errc::invalid_argument, "the statement returned more than "
                                                  + std::to_string(max_rows)
                                                  + " rows for one batch (processors.max_outputs)");
        derived_row r;
        r.channel = text_of(rows, d.cols.channel);
        r.data_is_text = rows.column_type(d.cols.data) == SQLITE_TEXT;
        r.data = text_of(rows, d.cols.data);
        r.type = text_of(rows, d.cols.type);
        r.id = text_of(rows, d.cols.id);
        if (d.cols.source_position >= 0 && !rows.column_is_null(d.cols.source_position))
          r.source_position = static_cast<uint64_t>(rows.column_int(d.cols.source_position));
        out.push_back(std::move(r));
      }
    }
    d.g.admin = true;
    snapshot.commit();
    d.g.admin = false;
  } catch (const failure& f) {
    d.g.admin = false;
    if (clock_type::now() > d.deadline)
      throw failure(errc::invalid_argument, "the statement ran longer than "
                                              + std::to_string(timeout.count())
                                              + "ms (processors.timeout)");
    throw;
  }
  return out;
}

std::string processor_statement::validate(const config::processor_def& def,
                                          const std::vector<config::projection_def>& projections) {
  std::string where = "processor \"" + def.name + "\": ";
  try {
    // Each read model's schema lives in a shared in-memory database, kept
    // alive by its own connection while the check attaches it by name.
    std::vector<std::unique_ptr<database>> holders;
    std::vector<std::pair<std::string, std::string>> uris;
    for (const auto& name : def.read_models) {
      auto p = std::find_if(projections.begin(), projections.end(),
                            [&](const auto& x) { return x.name == name; });
      if (p == projections.end())
        return where + "no projection named \"" + name + "\"";
      std::string uri = "file:" + scratch_name() + "?mode=memory&cache=shared";
      holders.push_back(std::make_unique<database>(uri, database::mode::read_write_create, true));
      holders.back()->exec("CREATE TABLE _herald (key TEXT PRIMARY KEY, value) WITHOUT ROWID");
      holders.back()->exec(p->schema);
      uris.emplace_back(name, uri);
    }
    impl d(def);
    for (const auto& [name, uri] : uris)
      d.admin("ATTACH DATABASE '" + uri + "' AS " + quoted(name));
    output_columns cols;
    prepare_checked(d.db, def.sql, cols);
  } catch (const failure& f) {
    return where + f.what();
  }
  return "";
}

namespace {

/// Whether `text` is exactly one JSON value (RFC 8259, UTF-8, no NaN).
bool one_json_value(const std::string& text) {
  rapidjson::BaseReaderHandler<> ignore;
  rapidjson::Reader reader;
  rapidjson::StringStream in(text.c_str());
  constexpr unsigned flags =
    rapidjson::kParseValidateEncodingFlag | rapidjson::kParseStopWhenDoneFlag;
  if (reader.Parse<flags>(in, ignore).IsError())
    return false;
  while (in.Peek() == ' ' || in.Peek() == '\t' || in.Peek() == '\n' || in.Peek() == '\r')
    in.Take();
  return in.Tell() == text.size();
}

} // namespace

std::string check_derived_row(const config::settings& s, const std::string& processor,
                              const derived_row& row) {
  const std::string ch = "channel \"" + config::one_line(row.channel) + "\"";
  if (row.channel.empty())
    return "a row has no channel";
  if (row.channel.size() > static_cast<size_t>(s.channels.max_name_length))
    return ch + " is longer than channels.max_name_length";
  if (config::is_private_channel(row.channel))
    return ch + " is private ('$'): processors write public channels only";
  const auto* ns = s.namespace_of(row.channel);
  if (!ns)
    return ch + " is in no configured namespace";
  if (std::find(ns->writers.begin(), ns->writers.end(), processor) == ns->writers.end())
    return ch + ": namespace \"" + std::string(config::namespace_name(row.channel))
           + "\" does not list processor \"" + processor + "\" in its writers";
  if (config::is_user_limited(*ns, row.channel))
    return ch + " is user-limited ('#'): processors write open channels only";
  if (!row.data_is_text || !one_json_value(row.data))
    return "the data of a row for " + ch + " is not JSON text";
  return "";
}

std::string derived_event_id(const std::string& processor, uint64_t generation,
                             uint64_t source_position, uint64_t ordinal) {
  const std::string g = generation ? "g" + std::to_string(generation) + "-" : "";
  return processor + "-" + g + std::to_string(source_position) + "-" + std::to_string(ordinal);
}

std::string derived_event_id(const std::string& processor, uint64_t source_position,
                             uint64_t ordinal) {
  return derived_event_id(processor, 0, source_position, ordinal);
}

std::string derived_meta(const std::string& processor, const recorded_event* source,
                         uint64_t generation) {
  event_meta m;
  m.via = "processor";
  m.processor = processor;
  m.generation = generation;
  if (source) {
    m.causation = source->id.empty() ? "position:" + std::to_string(source->position) : source->id;
    // A chain keeps the correlation of the event that started it.
    auto from = decode_meta(source->meta);
    m.correlation = from.correlation.empty() ? m.causation : from.correlation;
  }
  return encode_meta(m);
}

} // namespace herald::storage
