#include "storage/read_model.hpp"

#include "config/channel_rules.hpp"
#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"
#include "storage/result.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>

namespace herald::storage {

namespace {

/// The event fields a handler's SQL may bind by name.
enum class field : uint8_t {
  stream,
  ns,
  name,
  version,
  position,
  type,
  id,
  time,
  meta,
  data,
  user,
  client,
  is_private
};

std::optional<field> field_named(std::string_view param) {
  if (param.empty())
    return std::nullopt;
  param.remove_prefix(1); // ':' '@' or '$'
  static const std::pair<std::string_view, field> names[] = {
    {"stream", field::stream},
    {"namespace", field::ns},
    {"name", field::name},
    {"version", field::version},
    {"position", field::position},
    {"type", field::type},
    {"id", field::id},
    {"time", field::time},
    {"meta", field::meta},
    {"data", field::data},
    {"user", field::user},
    {"client", field::client},
    {"private", field::is_private},
  };
  for (const auto& [n, f] : names)
    if (n == param)
      return f;
  return std::nullopt;
}

struct compiled_statement {
  statement stmt;
  std::vector<std::pair<int, field>> params;
};

struct compiled_handler {
  std::string namespace_name;
  std::vector<std::string> types;
  int line = 0;
  bool include_private = false;
  std::vector<compiled_statement> statements;

  bool matches(const event_view& e) const {
    // Private channels stay out unless the handler asks (docs/security.md).
    if (!include_private && config::is_private_channel(e.stream))
      return false;
    if (!namespace_name.empty() && config::namespace_name(e.stream) != namespace_name)
      return false;
    return types.empty() || std::find(types.begin(), types.end(), e.type) != types.end();
  }
};

/// A handler that does not compile, and the config line it is on.
struct compile_error {
  int line;
  std::string message;
};

result<std::vector<compiled_handler>, compile_error> compile(const database& db,
                                                             const config::projection_def& def) {
  std::vector<compiled_handler> out;
  int n = 0;
  for (const auto& h : def.handlers) {
    ++n;
    compiled_handler ch{h.namespace_name, h.types, h.line, h.include_private, {}};
    std::vector<statement> stmts;
    try {
      stmts = db.prepare_all(h.sql);
    } catch (const failure& f) {
      return unexpected{compile_error{h.line, "projection " + def.name + ", handler "
                                                + std::to_string(n) + ": " + f.what()}};
    }
    for (auto& s : stmts) {
      compiled_statement cs{std::move(s), {}};
      for (int i = 1; i <= cs.stmt.parameter_count(); ++i) {
        const char* pname = cs.stmt.parameter_name(i);
        auto f = field_named(pname ? pname : "");
        if (!f)
          return unexpected{compile_error{
            h.line, "projection " + def.name + ", handler " + std::to_string(n)
                      + ": unknown parameter " + (pname ? pname : "?" + std::to_string(i))
                      + " (known: :stream :namespace :name :version :position :type :id "
                        ":time :meta :data :user :client :private)"}};
        cs.params.emplace_back(i, *f);
      }
      ch.statements.push_back(std::move(cs));
    }
    out.push_back(std::move(ch));
  }
  return out;
}

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h ^ 0xff; // separates fields
}

constexpr const char* meta_schema =
  "CREATE TABLE _herald (key TEXT PRIMARY KEY, value) WITHOUT ROWID";

/// :name, the part after "namespace:". A private channel keeps its '$'
/// ("$chat:x" -> "$x", "chat:x" -> "x") so that it never names the same row
/// as the public channel of the same name.
std::string name_of(std::string_view stream) {
  auto colon = stream.find(':');
  if (colon == std::string_view::npos)
    return std::string(stream);
  std::string name = config::is_private_channel(stream) ? "$" : "";
  name += stream.substr(colon + 1);
  return name;
}

/// What one event's handlers may bind, rendered on first use.
struct event_values {
  explicit event_values(const event_view& ev) : e(ev) {}

  const event_view& e;
  std::string ns, name, meta_json, data_json;
  bool have_ns = false, have_meta_json = false, have_data_json = false, have_meta = false;
  event_meta meta;

  void bind(cursor& s, int index, field f) {
    switch (f) {
      case field::stream:
        s.bind(index, e.stream);
        break;
      case field::ns:
        if (!have_ns) {
          ns = std::string(config::namespace_name(e.stream));
          name = name_of(e.stream);
          have_ns = true;
        }
        s.bind(index, ns);
        break;
      case field::name:
        if (!have_ns)
          bind(s, index, field::ns); // computes both
        s.bind(index, name);
        break;
      case field::version:
        s.bind(index, static_cast<int64_t>(e.version));
        break;
      case field::position:
        s.bind(index, static_cast<int64_t>(e.position));
        break;
      case field::type:
        s.bind(index, e.type);
        break;
      case field::id:
        s.bind(index, e.id);
        break;
      case field::time:
        s.bind(index, e.time);
        break;
      case field::meta:
        if (!have_meta_json) {
          if (!msgpack_to_json(e.meta, meta_json) || e.meta.empty())
            meta_json = "{}";
          have_meta_json = true;
        }
        s.bind(index, meta_json);
        break;
      case field::data:
        if (!have_data_json) {
          if (!msgpack_to_json(e.data, data_json))
            data_json = "null";
          have_data_json = true;
        }
        s.bind(index, data_json);
        break;
      case field::is_private:
        s.bind(index, int64_t{config::is_private_channel(e.stream) ? 1 : 0});
        break;
      case field::user:
      case field::client:
        if (!have_meta) {
          meta = decode_meta(e.meta);
          have_meta = true;
        }
        s.bind(index, f == field::user ? meta.user : meta.client);
        break;
    }
  }
};

/// A handler failed on an event: its tables refuse it (constraint, SQL
/// error), as opposed to the disk refusing everything.
struct handler_error {
  std::string message;
};

} // namespace

struct read_model::impl {
  database db;
  std::string name;
  std::string fingerprint;
  std::vector<compiled_handler> handlers;
  statement set_checkpoint;
  uint64_t checkpoint = 0;
  bool matches = true;
  bool complete = false;

  impl(const std::string& path, const config::projection_def& def, bool bulk)
    : db(path, database::mode::read_write_create), name(def.name),
      fingerprint(read_model::fingerprint(def)), set_checkpoint(db.prepare("SELECT 1")) {
    db.exec(bulk ? "PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; "
                   "PRAGMA cache_size = -131072; PRAGMA temp_store = MEMORY"
                 : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                   "PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY");
    if (db.query_int("SELECT count(*) FROM sqlite_schema") == 0)
      create_schema(def);
    if (db.query_int("SELECT count(*) FROM sqlite_schema WHERE name = '_herald'") == 0) {
      matches = false; // not a read model of ours
      return;
    }
    read_label();
    set_checkpoint = db.prepare("UPDATE _herald SET value = ?1 WHERE key = 'checkpoint'");
    if (matches) {
      auto compiled = compile(db, def);
      if (!compiled) // the config check refuses such definitions before this
        throw failure(errc::invalid_argument, compiled.error().message);
      handlers = std::move(compiled).value();
    }
  }

  /// A new file: `_herald` with an empty checkpoint, and the schema.
  void create_schema(const config::projection_def& def) {
    transaction tx(db, transaction::kind::immediate);
    db.exec(meta_schema);
    db.exec(def.schema);
    auto put = db.prepare("INSERT INTO _herald (key, value) VALUES (?1, ?2)");
    put.use().bind(1, std::string_view("fingerprint")).bind(2, fingerprint).run();
    put.use().bind(1, std::string_view("checkpoint")).bind(2, int64_t{0}).run();
    put.use().bind(1, std::string_view("complete")).bind(2, int64_t{0}).run();
    tx.commit();
  }

  void read_label() {
    auto get = db.prepare("SELECT value FROM _herald WHERE key = ?1");
    {
      auto row = get.use();
      row.bind(1, std::string_view("fingerprint"));
      matches = row.step() && row.column_text(0) == fingerprint;
    }
    {
      auto row = get.use();
      row.bind(1, std::string_view("checkpoint"));
      checkpoint = row.step() ? static_cast<uint64_t>(row.column_int(0)) : 0;
    }
    auto row = get.use();
    row.bind(1, std::string_view("complete"));
    complete = row.step() && row.column_int(0) != 0;
  }

  void store_checkpoint(uint64_t position) {
    set_checkpoint.use().bind(1, static_cast<int64_t>(position)).run();
  }

  /// Runs the handlers of one event, or says which one's SQL failed on it.
  /// Throws failure when the file or the disk fails.
  result<void, handler_error> run(const event_view& e) {
    event_values values(e);
    for (size_t h = 0; h < handlers.size(); ++h) {
      auto& handler = handlers[h];
      if (!handler.matches(e))
        continue;
      for (auto& cs : handler.statements) {
        try {
          auto use = cs.stmt.use();
          for (auto& [index, f] : cs.params)
            values.bind(use, index, f);
          use.run();
        } catch (const failure& f) {
          if (is_temporary(f.code()) || f.code() == errc::corrupt)
            throw; // the file or disk, not the handler
          return unexpected{handler_error{
            "handler " + std::to_string(h + 1) + " (line " + std::to_string(handler.line)
            + ") failed on event " + std::to_string(e.position) + " (" + std::string(e.stream)
            + " v" + std::to_string(e.version) + "): " + f.what()}};
        }
      }
    }
    return {};
  }

  /// Applies events[from, to) and the checkpoint in one transaction.
  void apply_range(const std::vector<event_view>& events, size_t from, size_t to) {
    transaction tx(db, transaction::kind::immediate);
    for (size_t i = from; i < to; ++i)
      if (auto ran = run(events[i]); !ran) // they all ran before: only a changed file
        throw failure(errc::internal, ran.error().message);
    store_checkpoint(events[to - 1].position);
    tx.commit();
    checkpoint = events[to - 1].position;
  }

  /// Runs events[from, ...) in one transaction up to the first handler that
  /// fails, and commits them with the checkpoint when none does. Returns the
  /// index of the failing event (events.size() when none), with its error.
  size_t apply_all_or_find_failure(const std::vector<event_view>& events, size_t from,
                                   std::string& error) {
    transaction tx(db, transaction::kind::immediate);
    for (size_t i = from; i < events.size(); ++i) {
      if (auto ran = run(events[i]); !ran) {
        error = ran.error().message;
        return i; // rolls back
      }
    }
    store_checkpoint(events.back().position);
    tx.commit();
    checkpoint = events.back().position;
    return events.size();
  }

  apply_result apply(const std::vector<event_view>& events) {
    apply_result r;
    size_t start = 0;
    while (start < events.size() && events[start].position <= checkpoint)
      ++start;
    r.checkpoint = checkpoint;
    if (start == events.size())
      return r;
    if (events[start].position != checkpoint + 1)
      throw failure(errc::invalid_argument, db.path() + ": events must follow the checkpoint "
                                              + std::to_string(checkpoint) + ", got position "
                                              + std::to_string(events[start].position));
    // On a handler error, commit what came before the failing event and
    // report where it failed.
    std::string error;
    size_t failed_at = apply_all_or_find_failure(events, start, error);
    if (failed_at < events.size()) {
      if (failed_at > start)
        apply_range(events, start, failed_at);
      r.failed = true;
      r.failed_position = events[failed_at].position;
      r.error = error;
    }
    r.applied = failed_at - start;
    r.checkpoint = checkpoint;
    return r;
  }
};

read_model::read_model(const std::string& path, const config::projection_def& def, bool bulk)
  : impl_(std::make_unique<impl>(path, def, bulk)) {}

read_model::~read_model() = default;

const std::string& read_model::path() const {
  return impl_->db.path();
}

uint64_t read_model::checkpoint() const {
  return impl_->checkpoint;
}

bool read_model::matches_definition() const {
  return impl_->matches;
}

bool read_model::complete() const {
  return impl_->complete;
}

void read_model::mark_complete() {
  auto& db = impl_->db;
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768");
  db.exec("UPDATE _herald SET value = 1 WHERE key = 'complete'");
  impl_->complete = true;
}

apply_result read_model::apply(const std::vector<event_view>& events) {
  return impl_->apply(events);
}

apply_result read_model::apply(const std::vector<recorded_event>& events) {
  std::vector<event_view> views;
  views.reserve(events.size());
  for (const auto& e : events)
    views.push_back({e.position, e.stream, e.version, e.type, e.id, e.time, e.meta, e.data});
  return impl_->apply(views);
}

void read_model::skip_to(uint64_t position) {
  auto& d = *impl_;
  transaction tx(d.db, transaction::kind::immediate);
  d.store_checkpoint(position);
  tx.commit();
  d.checkpoint = position;
}

void read_model::copy_to(const std::string& path) {
  std::filesystem::remove(path);
  auto vacuum = impl_->db.prepare("VACUUM INTO ?1");
  vacuum.use().bind(1, std::string_view(path)).run();
}

std::string read_model::fingerprint(const config::projection_def& def) {
  uint64_t h = 14695981039346656037ULL;
  h = fnv1a(h, def.schema);
  for (const auto& handler : def.handlers) {
    h = fnv1a(h, handler.namespace_name);
    // Which events a handler sees changed with private channels (and :name
    // with them): every read model written before is rebuilt once.
    h = fnv1a(h, handler.include_private ? "private:1" : "private:0");
    for (const auto& t : handler.types)
      h = fnv1a(h, t);
    h = fnv1a(h, handler.sql);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string read_model::validate(const config::projection_def& def, int& line) {
  line = def.line;
  try {
    database db(":memory:", database::mode::read_write_create);
    try {
      db.exec(def.schema);
    } catch (const failure& f) {
      return "projection " + def.name + ": schema: " + f.what();
    }
    if (auto compiled = compile(db, def); !compiled) {
      line = compiled.error().line;
      return compiled.error().message;
    }
  } catch (const failure& f) {
    return f.what();
  }
  return "";
}

read_model_label read_label(const std::string& path, bool verify) {
  database db(path, database::mode::read_only);
  if (verify) {
    auto check_stmt = db.prepare("PRAGMA quick_check(1)");
    auto check = check_stmt.use();
    if (check.step() && check.column_text(0) != "ok")
      throw failure(errc::corrupt, path + ": damaged: " + std::string(check.column_text(0)));
  }
  read_model_label label;
  auto get_stmt = db.prepare("SELECT key, value FROM _herald");
  auto get = get_stmt.use();
  while (get.step()) {
    auto key = get.column_text(0);
    if (key == "checkpoint")
      label.checkpoint = static_cast<uint64_t>(get.column_int(1));
    else if (key == "fingerprint")
      label.fingerprint = std::string(get.column_text(1));
    else if (key == "complete")
      label.complete = get.column_int(1) != 0;
  }
  return label;
}

} // namespace herald::storage
