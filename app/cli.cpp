#include "app/cli.hpp"

#include "config/setting_table.hpp"
#include "storage/journal_format.hpp"

#include <sqlite3.h>

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
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage_error("--" + key + " needs a value");
    }
    if (key == "config") {
      if (value.empty())
        usage_error("--config needs a file name");
      cl.load.file = value;
      continue;
    }
    if (auto a = aliases.find(key); a != aliases.end())
      key = a->second;
    cl.load.overrides.push_back({normalize_key(key), value});
  }
}

template <class Root>
void describe(std::ostringstream& out, const config::setting<Root>& s, const std::string& key,
              const std::string& default_value) {
  out << "  --" << key << "=" << s.bounds << "\n"
      << "      " << s.description << " (default: " << default_value << ")\n";
}

std::string toml_string(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
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
         "  herald config [same options]   print the effective settings as TOML\n"
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
    bool quote =
      def.accepts != config::toml_kind::integer && def.accepts != config::toml_kind::boolean;
    if (def.accepts == config::toml_kind::integer_or_string
        && value.find_first_not_of("0123456789") == std::string::npos)
      quote = false;
    out << def.key.substr(dot + 1) << " = " << (quote ? toml_string(value) : value) << "\n";
  }
  for (const auto& [name, ns] : s.namespaces) {
    out << "\n[namespaces." << name << "]\n";
    for (const auto& def : config::namespace_options()) {
      auto value = def.format(ns);
      bool quote = def.accepts != config::toml_kind::boolean;
      out << def.key << " = " << (quote ? toml_string(value) : value) << "\n";
    }
  }
  for (const auto& p : s.projection_defs)
    out << "\n# projection \"" << p.name << "\": " << p.handlers.size() << " handler(s)\n";
  for (const auto& q : s.query_defs)
    out << "# query \"" << q.name << "\" over projection \"" << q.projection << "\"\n";
  return out.str();
}

} // namespace herald::app
