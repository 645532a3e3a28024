#include "app/cli.hpp"

#include "config/setting_table.hpp"
#include "storage/journal_format.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace herald::app {

namespace {

/// The contract's short flags and the settings they set.
const std::map<std::string, std::string, std::less<>> aliases = {
  {"listen", "server.listen"},       {"data-dir", "server.data_dir"},
  {"data_dir", "server.data_dir"},   {"log-level", "server.log_level"},
  {"log_level", "server.log_level"},
};

/// "journal.max-batch-events" -> "journal.max_batch_events": dashes are
/// accepted in the last component only (namespace names may hold dashes).
std::string normalize_key(std::string key) {
  auto dot = key.rfind('.');
  for (size_t i = dot == std::string::npos ? 0 : dot + 1; i < key.size(); ++i)
    if (key[i] == '-')
      key[i] = '_';
  return key;
}

[[noreturn]] void usage_error(const std::string& what) {
  throw config::config_error("command line: " + what + " (see herald --help)");
}

void parse_options(command_line& cl, int argc, const char* const* argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      cl.cmd = command::help;
      return;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0)
      usage_error("unexpected argument \"" + arg + "\"");
    std::string key = arg.substr(2), value;
    auto eq = key.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = key.substr(eq + 1);
      key.resize(eq);
    }
    std::string flag = "--" + key;
    if (auto a = aliases.find(key); a != aliases.end())
      key = a->second;
    // Known before its value is looked for: "--bogus" alone is a typo, not
    // a setting missing its value.
    if (key != "config" && !config::is_setting_key(normalize_key(key)))
      throw config::config_error("command line: " + flag
                                 + ": unknown setting (herald --help lists them)");
    if (!has_value) {
      if (i + 1 >= argc)
        usage_error(flag + " needs a value");
      value = argv[++i];
    }
    if (key == "config") {
      if (value.empty())
        usage_error("--config needs a file name");
      cl.load.file = value;
      continue;
    }
    cl.load.overrides.push_back({normalize_key(key), value});
  }
}

template <class Root>
void describe(std::ostringstream& out, const config::setting<Root>& s, const std::string& key,
              const std::string& default_value) {
  out << "  --" << key << "=" << s.bounds << "\n"
      << "      " << s.description << " (default: " << default_value << ")\n";
}

/// `v` as a TOML basic string. Text with newlines (SQL) becomes a
/// multi-line string that keeps them as they are, for a readable file.
std::string toml_string(const std::string& v) {
  bool multi_line = v.find('\n') != std::string::npos;
  std::string out = multi_line ? "\"\"\"\n" : "\"";
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    auto u = static_cast<unsigned char>(c);
    // In a multi-line string a quote needs an escape only where it could
    // end the string: before another quote, or last.
    bool quote_ends = !multi_line || i + 1 == v.size() || v[i + 1] == '"';
    if (c == '\\' || (c == '"' && quote_ends)) {
      out += '\\';
      out += c;
    } else if (c == '\n' && multi_line) {
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + (multi_line ? "\"\"\"" : "\"");
}

/// A key as written in a file: bare when it may be, else quoted.
std::string toml_key(const std::string& k) {
  bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  return bare ? k : toml_string(k);
}

/// Whether `v` reads back from TOML as the same integer, unquoted:
/// what std::to_string prints (no leading zero, no "-0").
bool is_integer(const std::string& v) {
  auto digits = v.substr(!v.empty() && v[0] == '-' ? 1 : 0);
  return !digits.empty() && digits.size() < 19
         && digits.find_first_not_of("0123456789") == std::string::npos
         && (digits[0] != '0' || v == "0");
}

std::string toml_string_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items)
    out += (out.size() > 1 ? ", " : "") + toml_string(item);
  return out + "]";
}

void print_projection(std::ostringstream& out, const config::projection_def& p) {
  out << "\n[[projection]]\nname = " << toml_string(p.name)
      << "\nschema = " << toml_string(p.schema) << "\n";
  for (const auto& h : p.handlers) {
    out << "\n[[projection.handler]]\n";
    if (!h.namespace_name.empty())
      out << "namespace = " << toml_string(h.namespace_name) << "\n";
    if (!h.types.empty())
      out << "types = " << toml_string_list(h.types) << "\n";
    if (h.include_private)
      out << "private = true\n";
    out << "sql = " << toml_string(h.sql) << "\n";
  }
}

void print_query(std::ostringstream& out, const config::query_def& q) {
  out << "\n[[query]]\nname = " << toml_string(q.name)
      << "\nprojection = " << toml_string(q.projection)
      << "\npublic = " << (q.public_read ? "true" : "false") << "\nsql = " << toml_string(q.sql)
      << "\n";
  for (const auto& p : q.params) {
    bool integer = p.type == config::query_param::kind::integer;
    out << "params." << toml_key(p.name) << " = { type = \"" << (integer ? "integer" : "text")
        << "\", required = " << (p.required ? "true" : "false");
    if (p.default_value)
      out << ", default = "
          << (integer && is_integer(*p.default_value) ? *p.default_value
                                                      : toml_string(*p.default_value));
    out << " }\n";
  }
}

void print_processor(std::ostringstream& out, const config::processor_def& p) {
  out << "\n[[processor]]\nname = " << toml_string(p.name)
      << "\nnamespaces = " << toml_string_list(p.namespaces)
      << "\ntypes = " << toml_string_list(p.types)
      << "\nread_models = " << toml_string_list(p.read_models)
      << "\nwait_for = " << toml_string_list(p.wait_for) << "\nsql = " << toml_string(p.sql)
      << "\n";
}

} // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  command_line cl;
  if (argc < 2)
    usage_error("no command given");
  std::string first = argv[1];
  if (first == "--version" || first == "-V" || first == "version") {
    cl.cmd = command::version;
    return cl;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    cl.cmd = command::help;
    return cl;
  }
  if (first == "serve")
    cl.cmd = command::serve;
  else if (first == "config")
    cl.cmd = command::print_config;
  else if (first == "check")
    cl.cmd = command::check;
  else
    usage_error("unknown command \"" + first + "\"");
  parse_options(cl, argc, argv, 2);
  return cl;
}

std::string version_text() {
  std::ostringstream out;
  out << "herald " << HERALD_VERSION << " (journal format " << storage::journal_format::version
      << ", SQLite " << sqlite3_libversion() << ")\n";
  return out.str();
}

std::string help_text() {
  std::ostringstream out;
  config::settings defaults;
  config::namespace_settings ns_defaults;
  out << "herald " << HERALD_VERSION
      << " - an event-sourced real-time backend\n\n"
         "Usage:\n"
         "  herald serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR]\n"
         "               [--log-level LEVEL] [--SETTING=VALUE ...]\n"
         "  herald config [same options]   print the effective settings as a TOML\n"
         "                                 file that herald serve --config accepts\n"
         "  herald check [same options]    check the settings, schemas, handlers and\n"
         "                                 queries as serve would; print ok or the error\n"
         "  herald --version | --help\n\n"
         "Without --config, herald serves the embedded chat demo.\n"
         "--listen, --data-dir and --log-level set server.listen, server.data_dir\n"
         "and server.log_level. In a file each setting is `key = value` under its\n"
         "[section]; durations are strings such as \"250ms\" or \"30s\", sizes are\n"
         "bytes or strings such as \"64KiB\".\n\n"
         "Settings:\n";
  for (const auto& s : config::node_settings())
    describe(out, s, s.key, s.format(defaults));
  out << "\nNamespace options ([namespaces.NAME] in a file; on the command line\n"
         "--namespaces.NAME.OPTION=VALUE). A channel's namespace is the part of\n"
         "its name before ':'; names without ':' use [namespaces.default].\n";
  for (const auto& s : config::namespace_options())
    describe(out, s, "namespaces.NAME." + s.key, s.format(ns_defaults));
  out << "\nProjections and queries are declared in the file as [[projection]] and\n"
         "[[query]] tables; see docs/configuration.md.\n";
  return out.str();
}

std::string settings_as_toml(const config::settings& s) {
  std::ostringstream out;
  std::string section;
  for (const auto& def : config::node_settings()) {
    auto dot = def.key.find('.');
    auto sec = def.key.substr(0, dot);
    if (sec != section) {
      out << (section.empty() ? "" : "\n") << "[" << sec << "]\n";
      section = sec;
    }
    auto value = def.format(s);
    if (value == config::hidden_secret) {
      // Printing "(set)" would make it the secret of whoever runs the file.
      out << "# " << def.key.substr(dot + 1) << " is set but not printed: put it here or pass --"
          << def.key << "\n";
      continue;
    }
    bool quote =
      def.accepts != config::toml_kind::integer && def.accepts != config::toml_kind::boolean;
    if (def.accepts == config::toml_kind::integer_or_string
        && value.find_first_not_of("0123456789") == std::string::npos)
      quote = false;
    out << def.key.substr(dot + 1) << " = " << (quote ? toml_string(value) : value) << "\n";
  }
  for (const auto& [name, ns] : s.namespaces) {
    // A name with a dot must be quoted, or it would name a nested table.
    out << "\n[namespaces." << toml_key(name) << "]\n";
    for (const auto& def : config::namespace_options()) {
      auto value = def.format(ns);
      bool quote = def.accepts != config::toml_kind::boolean;
      out << def.key << " = " << (quote ? toml_string(value) : value) << "\n";
    }
    if (!ns.writers.empty())
      out << "writers = " << toml_string_list(ns.writers) << "\n";
  }
  for (const auto& p : s.projection_defs)
    print_projection(out, p);
  for (const auto& q : s.query_defs)
    print_query(out, q);
  for (const auto& p : s.processor_defs)
    print_processor(out, p);
  return out.str();
}

} // namespace herald::app
