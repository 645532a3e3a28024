#include "config/loader.hpp"

#include "config/setting_table.hpp"
#include "config/toml_guard.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <fcntl.h>
#include <unistd.h>

namespace herald::config {

// Control characters as \n, \t or \xNN: an error message is one line, and
// toml++'s descriptions and quoted keys can hold a raw newline (found by
// tests/fuzz, regressions/config/).
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

/// Where an error was found: the file name and a line, or the command line.
struct location {
  std::string source;
  int64_t line = 0;

  [[noreturn]] void fail(std::string_view key, std::string_view reason) const {
    std::string msg = source;
    if (line > 0)
      msg += ":" + std::to_string(line);
    msg += ": ";
    if (!key.empty())
      msg += std::string(key) + ": ";
    msg += reason;
    throw config_error(one_line(msg));
  }
};

location at_node(std::string_view source, const toml::node& n) {
  return {std::string(source), static_cast<int64_t>(n.source().begin.line)};
}

location at_key(std::string_view source, const toml::key& k) {
  return {std::string(source), static_cast<int64_t>(k.source().begin.line)};
}

const char* kind_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date or time";
  }
}

/// The text form of a scalar TOML value, checked against what the setting
/// accepts; fails with a message naming the expected type.
std::string scalar_text(const toml::node& n, toml_kind accepts, const location& loc,
                        std::string_view key, std::string_view bounds) {
  auto t = n.type();
  bool ok = (t == toml::node_type::integer
             && (accepts == toml_kind::integer || accepts == toml_kind::integer_or_string))
            || (t == toml::node_type::string
                && (accepts == toml_kind::string || accepts == toml_kind::integer_or_string))
            || (t == toml::node_type::boolean && accepts == toml_kind::boolean);
  if (!ok) {
    const char* want = accepts == toml_kind::integer   ? "an integer"
                       : accepts == toml_kind::boolean ? "a boolean"
                       : accepts == toml_kind::string  ? "a string"
                                                       : "an integer or a string";
    loc.fail(key, std::string("expected ") + want + " (" + std::string(bounds) + "), found "
                    + kind_name(t));
  }
  if (auto i = n.value<int64_t>(); i && t == toml::node_type::integer)
    return std::to_string(*i);
  if (auto b = n.value<bool>(); b && t == toml::node_type::boolean)
    return *b ? "true" : "false";
  return std::string(*n.value<std::string_view>());
}

template <class Root>
void apply(Root& root, const setting<Root>& def, std::string_view text, const location& loc,
           std::string_view shown_key) {
  if (auto reason = def.parse(root, text))
    loc.fail(shown_key, *reason);
}

bool valid_name(std::string_view name, size_t max) {
  if (name.empty() || name.size() > max)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-' || c == '.';
  });
}

const toml::table& expect_table(const toml::node& n, std::string_view source,
                                std::string_view key) {
  auto* t = n.as_table();
  if (!t)
    at_node(source, n).fail(key, std::string("expected a table, found ") + kind_name(n.type()));
  return *t;
}

std::string expect_string(const toml::table& t, std::string_view field, std::string_view source,
                          std::string_view key, int64_t owner_line, bool required) {
  const toml::node* n = t.get(field);
  std::string shown = std::string(key) + "." + std::string(field);
  if (!n) {
    if (required)
      location{std::string(source), owner_line}.fail(shown, "is required");
    return {};
  }
  auto s = n->value<std::string_view>();
  if (!s || n->type() != toml::node_type::string)
    at_node(source, *n)
      .fail(shown, std::string("expected a string, found ") + kind_name(n->type()));
  return std::string(*s);
}

void reject_unknown(const toml::table& t, std::initializer_list<std::string_view> known,
                    std::string_view source, std::string_view key) {
  for (auto&& [k, v] : t) {
    (void) v;
    if (std::find(known.begin(), known.end(), k.str()) == known.end())
      at_key(source, k).fail(std::string(key) + "." + std::string(k.str()), "unknown field");
  }
}

void load_section(settings& s, std::string_view section, const toml::table& t,
                  std::string_view source) {
  for (auto&& [k, v] : t) {
    std::string key = std::string(section) + "." + std::string(k.str());
    const auto* def = find_setting(node_settings(), key);
    if (!def)
      at_key(source, k).fail(key, "unknown setting (herald --help lists them)");
    auto loc = at_node(source, v);
    apply(s, *def, scalar_text(v, def->accepts, loc, key, def->bounds), loc, key);
  }
}

std::vector<std::string> string_list(const toml::node& n, std::string_view source,
                                     std::string_view key);

void load_namespaces(settings& s, const toml::table& t, std::string_view source) {
  for (auto&& [k, v] : t) {
    std::string name(k.str());
    std::string key = "namespaces." + name;
    if (!valid_name(name, 64))
      at_key(source, k).fail(key, "a namespace name is 1..64 of A-Z a-z 0-9 _ - .");
    auto& ns = s.namespaces[name];
    for (auto&& [ok, ov] : expect_table(v, source, key)) {
      std::string option_key = key + "." + std::string(ok.str());
      if (ok.str() == "writers") { // the one list-valued option
        ns.writers = string_list(ov, source, option_key);
        continue;
      }
      const auto* def = find_setting(namespace_options(), ok.str());
      if (!def)
        at_key(source, ok).fail(option_key, "unknown namespace option");
      auto loc = at_node(source, ov);
      apply(ns, *def, scalar_text(ov, def->accepts, loc, option_key, def->bounds), loc, option_key);
      if (ns.subscribe == permission::subscriber)
        loc.fail(option_key, "\"subscriber\" does not apply to subscribe (use any, token, server "
                             "or off)");
    }
  }
}

std::vector<std::string> string_list(const toml::node& n, std::string_view source,
                                     std::string_view key) {
  std::vector<std::string> out;
  auto* arr = n.as_array();
  if (!arr)
    at_node(source, n).fail(key, "expected an array of strings");
  for (auto&& item : *arr) {
    auto str = item.value<std::string_view>();
    if (!str || item.type() != toml::node_type::string)
      at_node(source, item).fail(key, "expected an array of strings");
    out.emplace_back(*str);
  }
  return out;
}

/// Where the text of string value `n` starts in `text` (the parsed TOML),
/// and whether its newlines are the file's: a multi-line string drops a
/// newline right after its opening quotes, and escapes (\n, a line-ending
/// backslash) add or remove newlines, which the newline count reveals.
text_origin origin_of(const toml::node& n, std::string_view text) {
  const auto& where = n.source();
  text_origin o{static_cast<int>(where.begin.line), false};
  size_t pos = 0;
  for (size_t l = 1; l < where.begin.line && pos != std::string_view::npos; ++l)
    if ((pos = text.find('\n', pos)) != std::string_view::npos)
      ++pos;
  if (pos == std::string_view::npos)
    return o;
  auto line = text.substr(pos, text.find('\n', pos) - pos);
  auto opener = std::min(line.find("\"\"\""), line.find("'''"));
  if (opener != std::string_view::npos) {
    auto rest = line.substr(opener + 3);
    if (rest.empty() || rest == "\r")
      ++o.line;
  }
  auto value = n.value<std::string_view>().value_or("");
  auto newlines = std::count(value.begin(), value.end(), '\n');
  o.exact_lines = where.end.line >= static_cast<size_t>(o.line)
                  && static_cast<size_t>(newlines) == where.end.line - static_cast<size_t>(o.line);
  return o;
}

void load_projections(settings& s, const toml::node& n, std::string_view source,
                      std::string_view text) {
  auto* arr = n.as_array();
  if (!arr)
    at_node(source, n).fail("projection", "expected [[projection]] tables");
  for (auto&& item : *arr) {
    const auto& t = expect_table(item, source, "projection");
    int64_t line = item.source().begin.line;
    reject_unknown(t, {"name", "schema", "handler"}, source, "projection");
    projection_def def;
    def.line = static_cast<int>(line);
    def.name = expect_string(t, "name", source, "projection", line, true);
    std::string key = "projection." + def.name;
    // The name becomes a file name under data_dir, so keep it plain.
    if (!valid_name(def.name, 64) || def.name.find('.') != std::string::npos)
      at_node(source, *t.get("name")).fail(key, "a projection name is 1..64 of A-Z a-z 0-9 _ -");
    for (const auto& other : s.projection_defs)
      if (other.name == def.name)
        at_node(source, *t.get("name")).fail(key, "defined twice");
    def.schema = expect_string(t, "schema", source, key, line, true);
    def.schema_at = origin_of(*t.get("schema"), text);
    const toml::node* handlers = t.get("handler");
    if (!handlers || !handlers->as_array() || handlers->as_array()->empty())
      location{std::string(source), line}.fail(key, "needs at least one [[projection.handler]]");
    for (auto&& h : *handlers->as_array()) {
      const auto& ht = expect_table(h, source, key + ".handler");
      int64_t hline = h.source().begin.line;
      reject_unknown(ht, {"namespace", "types", "private", "sql"}, source, key + ".handler");
      handler_def hd;
      hd.line = static_cast<int>(hline);
      hd.namespace_name = expect_string(ht, "namespace", source, key + ".handler", hline, false);
      if (const auto* types = ht.get("types"))
        hd.types = string_list(*types, source, key + ".handler.types");
      if (const auto* priv = ht.get("private")) {
        auto v = priv->value<bool>();
        if (!v || priv->type() != toml::node_type::boolean)
          at_node(source, *priv).fail(key + ".handler.private", "expected true or false");
        hd.include_private = *v;
      }
      hd.sql = expect_string(ht, "sql", source, key + ".handler", hline, true);
      hd.sql_at = origin_of(*ht.get("sql"), text);
      def.handlers.push_back(std::move(hd));
    }
    s.projection_defs.push_back(std::move(def));
  }
}

query_param load_param(std::string name, const toml::node& n, std::string_view source,
                       const std::string& key) {
  query_param p;
  p.name = std::move(name);
  const auto& t = expect_table(n, source, key);
  reject_unknown(t, {"type", "required", "default"}, source, key);
  if (const auto* type = t.get("type")) {
    auto v = type->value<std::string_view>();
    if (v == "text")
      p.type = query_param::kind::text;
    else if (v == "integer")
      p.type = query_param::kind::integer;
    else
      at_node(source, *type).fail(key + ".type", "expected \"text\" or \"integer\"");
  }
  if (const auto* req = t.get("required")) {
    auto v = req->value<bool>();
    if (!v || req->type() != toml::node_type::boolean)
      at_node(source, *req).fail(key + ".required", "expected true or false");
    p.required = *v;
  }
  if (const auto* def = t.get("default")) {
    if (def->type() == toml::node_type::integer)
      p.default_value = std::to_string(*def->value<int64_t>());
    else if (def->type() == toml::node_type::string)
      p.default_value = std::string(*def->value<std::string_view>());
    else
      at_node(source, *def).fail(key + ".default", "expected an integer or a string");
  }
  return p;
}

void load_queries(settings& s, const toml::node& n, std::string_view source,
                  std::string_view text) {
  auto* arr = n.as_array();
  if (!arr)
    at_node(source, n).fail("query", "expected [[query]] tables");
  for (auto&& item : *arr) {
    const auto& t = expect_table(item, source, "query");
    int64_t line = item.source().begin.line;
    reject_unknown(t, {"name", "projection", "sql", "params", "public"}, source, "query");
    query_def def;
    def.line = static_cast<int>(line);
    def.name = expect_string(t, "name", source, "query", line, true);
    std::string key = "query." + def.name;
    if (!valid_name(def.name, 64))
      at_node(source, *t.get("name")).fail(key, "a query name is 1..64 of A-Z a-z 0-9 _ - .");
    for (const auto& other : s.query_defs)
      if (other.name == def.name)
        at_node(source, *t.get("name")).fail(key, "defined twice");
    def.projection = expect_string(t, "projection", source, key, line, true);
    bool known = std::any_of(s.projection_defs.begin(), s.projection_defs.end(),
                             [&](const auto& p) { return p.name == def.projection; });
    if (!known)
      at_node(source, *t.get("projection"))
        .fail(key + ".projection", "no projection named \"" + def.projection + "\"");
    def.sql = expect_string(t, "sql", source, key, line, true);
    def.sql_at = origin_of(*t.get("sql"), text);
    if (const auto* pub = t.get("public")) {
      auto v = pub->value<bool>();
      if (!v || pub->type() != toml::node_type::boolean)
        at_node(source, *pub).fail(key + ".public", "expected true or false");
      def.public_read = *v;
    }
    if (const auto* params = t.get("params"))
      for (auto&& [pk, pv] : expect_table(*params, source, key + ".params")) {
        std::string pname(pk.str());
        if (!valid_name(pname, 64))
          at_key(source, pk)
            .fail(key + ".params." + pname, "a parameter name is 1..64 of A-Z a-z 0-9 _ - .");
        def.params.push_back(load_param(pname, pv, source, key + ".params." + pname));
      }
    s.query_defs.push_back(std::move(def));
  }
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

/// The optional string list `field` of `t`.
std::vector<std::string> optional_list(const toml::table& t, std::string_view field,
                                       std::string_view source, const std::string& key) {
  const auto* n = t.get(field);
  return n ? string_list(*n, source, key + "." + std::string(field)) : std::vector<std::string>{};
}

/// At most this many read models per processor: SQLite attaches at most 10
/// databases to one connection (SQLITE_MAX_ATTACHED in Debian's build).
constexpr size_t max_read_models = 10;

void check_read_models(const settings& s, const processor_def& def, const toml::table& t,
                       std::string_view source, const std::string& key) {
  const auto* where = t.get("read_models");
  if (def.read_models.size() > max_read_models)
    at_node(source, *where)
      .fail(key + ".read_models",
            "at most " + std::to_string(max_read_models) + " read models (SQLite attaches 10)");
  for (const auto& rm : def.read_models) {
    bool known = std::any_of(s.projection_defs.begin(), s.projection_defs.end(),
                             [&](const auto& p) { return p.name == rm; });
    if (!known)
      at_node(source, *where).fail(key + ".read_models", "no projection named \"" + rm + "\"");
    if (std::count(def.read_models.begin(), def.read_models.end(), rm) > 1)
      at_node(source, *where).fail(key + ".read_models", "\"" + rm + "\" is listed twice");
  }
  for (const auto& w : def.wait_for)
    if (!contains(def.read_models, w))
      at_node(source, *t.get("wait_for"))
        .fail(key + ".wait_for", "\"" + w + "\" is not one of its read_models");
}

void load_processors(settings& s, const toml::node& n, std::string_view source,
                     std::string_view text) {
  auto* arr = n.as_array();
  if (!arr)
    at_node(source, n).fail("processor", "expected [[processor]] tables");
  for (auto&& item : *arr) {
    const auto& t = expect_table(item, source, "processor");
    int64_t line = item.source().begin.line;
    reject_unknown(t, {"name", "namespaces", "types", "read_models", "wait_for", "sql"}, source,
                   "processor");
    processor_def def;
    def.line = static_cast<int>(line);
    def.name = expect_string(t, "name", source, "processor", line, true);
    std::string key = "processor." + def.name;
    // The name is stored in the journal and shown in URLs: keep it plain.
    if (!valid_name(def.name, 64) || def.name.find('.') != std::string::npos)
      at_node(source, *t.get("name")).fail(key, "a processor name is 1..64 of A-Z a-z 0-9 _ -");
    for (const auto& other : s.processor_defs)
      if (other.name == def.name)
        at_node(source, *t.get("name")).fail(key, "defined twice");
    if (!t.get("namespaces"))
      location{std::string(source), line}.fail(key + ".namespaces", "is required");
    def.namespaces = optional_list(t, "namespaces", source, key);
    if (def.namespaces.empty())
      at_node(source, *t.get("namespaces"))
        .fail(key + ".namespaces", "name at least one namespace to read");
    def.types = optional_list(t, "types", source, key);
    def.read_models = optional_list(t, "read_models", source, key);
    def.wait_for = t.get("wait_for") ? optional_list(t, "wait_for", source, key) : def.read_models;
    check_read_models(s, def, t, source, key);
    def.sql = expect_string(t, "sql", source, key, line, true);
    def.sql_at = origin_of(*t.get("sql"), text);
    s.processor_defs.push_back(std::move(def));
  }
}

/// Namespaces a processor may write: those listing it as a writer.
std::vector<std::string> outputs_of(const settings& s, const std::string& processor) {
  std::vector<std::string> out;
  for (const auto& [name, ns] : s.namespaces)
    if (contains(ns.writers, processor))
      out.push_back(name);
  return out;
}

/// Whether following "P writes a namespace Q reads" from `from` comes back
/// to `target` (a derived event would feed the processor that made it).
bool feeds(const settings& s, const processor_def& from, const std::string& target,
           std::vector<std::string>& seen) {
  for (const auto& ns : outputs_of(s, from.name))
    for (const auto& q : s.processor_defs)
      if (contains(q.namespaces, ns)) {
        if (q.name == target)
          return true;
        if (contains(seen, q.name))
          continue;
        seen.push_back(q.name);
        if (feeds(s, q, target, seen))
          return true;
      }
  return false;
}

/// The rules between namespaces and processors, once both are loaded.
void check_processor_links(const settings& s) {
  for (const auto& [name, ns] : s.namespaces)
    for (const auto& w : ns.writers)
      if (std::none_of(s.processor_defs.begin(), s.processor_defs.end(),
                       [&](const auto& p) { return p.name == w; }))
        location{s.source, 0}.fail("namespaces." + name + ".writers",
                                   "no processor named \"" + w + "\"");
  for (const auto& p : s.processor_defs) {
    location at{s.source, p.line};
    for (const auto& ns : p.namespaces)
      if (!s.namespaces.count(ns))
        at.fail("processor." + p.name + ".namespaces", "no namespace named \"" + ns + "\"");
    std::vector<std::string> seen;
    if (feeds(s, p, p.name, seen))
      at.fail("processor." + p.name,
              "its derived events would reach it again (a namespace it writes is read by it or "
              "by a processor that feeds it): processors must not form a cycle");
  }
}

/// The whole file; a failure names the file and the system's reason
/// (strerror), e.g. "No such file or directory" or "Is a directory".
std::string read_file(const std::string& path) {
  auto fail = [&](int err) {
    throw config_error(
      one_line(path + ": cannot read the configuration file: " + std::strerror(err)));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(errno);
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      fail(err);
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

} // namespace

settings parse_toml(std::string_view text, std::string_view source) {
  auto guarded = guard_toml(text);
  if (guarded.bad_line > 0)
    location{std::string(source), guarded.bad_line}.fail("", "syntax error: " + guarded.problem);
  toml::table root;
  try {
    root = toml::parse(guarded.text, source);
  } catch (const toml::parse_error& e) {
    location{std::string(source), static_cast<int64_t>(e.source().begin.line)}.fail(
      "", std::string("syntax error: ") + std::string(e.description()));
  }
  settings s;
  s.source = std::string(source);
  // Projections first: queries refer to them, wherever they sit in the file.
  if (const auto* p = root.get("projection"))
    load_projections(s, *p, source, guarded.text);
  for (auto&& [k, v] : root) {
    auto name = k.str();
    if (name == "server" || name == "journal" || name == "channels" || name == "projections"
        || name == "queries" || name == "processors" || name == "websocket" || name == "http"
        || name == "tokens")
      load_section(s, name, expect_table(v, source, name), source);
    else if (name == "namespaces")
      load_namespaces(s, expect_table(v, source, name), source);
    else if (name == "projection")
      continue;
    else if (name == "query")
      load_queries(s, v, source, guarded.text);
    else if (name == "processor")
      load_processors(s, v, source, guarded.text);
    else
      at_key(source, k).fail(name, "unknown section (expected server, journal, "
                                   "channels, projections, queries, processors, websocket, http, "
                                   "tokens, namespaces, [[projection]], [[query]] or "
                                   "[[processor]])");
  }
  check_processor_links(s);
  return s;
}

void apply_override(settings& s, const override_value& o) {
  location loc{"command line", 0};
  std::string shown = "--" + o.key;
  if (const auto* def = find_setting(node_settings(), o.key)) {
    apply(s, *def, o.value, loc, shown);
    return;
  }
  // --namespaces.NAME.OPTION=VALUE
  constexpr std::string_view prefix = "namespaces.";
  if (o.key.compare(0, prefix.size(), prefix) == 0) {
    auto rest = std::string_view(o.key).substr(prefix.size());
    auto dot = rest.rfind('.');
    if (dot != std::string_view::npos) {
      auto name = rest.substr(0, dot);
      if (!valid_name(name, 64))
        loc.fail(shown, "a namespace name is 1..64 of A-Z a-z 0-9 _ - .");
      if (const auto* def = find_setting(namespace_options(), rest.substr(dot + 1))) {
        apply(s.namespaces[std::string(name)], *def, o.value, loc, shown);
        return;
      }
    }
  }
  loc.fail(shown, "unknown setting (herald --help lists them)");
}

settings load(const load_options& options) {
  settings s = options.file ? parse_toml(read_file(*options.file), *options.file)
                            : parse_toml(embedded_default(), "(embedded default)");
  for (const auto& o : options.overrides)
    apply_override(s, o);
  return s;
}

std::string_view namespace_name(std::string_view channel) {
  if (!channel.empty() && channel[0] == '$')
    channel.remove_prefix(1);
  auto colon = channel.find(':');
  return colon == std::string_view::npos ? std::string_view("default") : channel.substr(0, colon);
}

const namespace_settings* settings::namespace_of(std::string_view channel) const {
  auto it = namespaces.find(std::string(namespace_name(channel)));
  return it == namespaces.end() ? nullptr : &it->second;
}

} // namespace herald::config
