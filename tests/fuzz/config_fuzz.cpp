// Fuzz target: the configuration loader (config/loader.hpp) on TOML text. A
// bad configuration is expected and fine: parse_toml throws config_error with
// a one-line message naming the source. Anything else escaping it (another
// exception, a crash, a sanitizer report) is a bug, and so is a loaded
// setting that does not print and parse back to itself.
#include "config/loader.hpp"
#include "config/setting_table.hpp"
#include "fuzz_entries.hpp"

#include <string>

namespace herald::fuzz {

namespace {

constexpr std::string_view source = "fuzz.toml";

/// `herald config` prints every loaded setting with its format function;
/// what prints must read back as the same value.
template <class Root>
void check_round_trip(const std::vector<config::setting<Root>>& table, const Root& loaded) {
  for (const auto& def : table) {
    auto printed = def.format(loaded);
    Root copy;
    HERALD_FUZZ_CHECK(!def.parse(copy, printed));
    HERALD_FUZZ_CHECK(def.format(copy) == printed);
  }
}

} // namespace

void config(std::string_view input) {
  config::settings s;
  try {
    s = config::parse_toml(input, source);
  } catch (const config::config_error& e) {
    std::string_view message = e.what();
    HERALD_FUZZ_CHECK(message.substr(0, source.size()) == source);
    HERALD_FUZZ_CHECK(message.find('\n') == std::string_view::npos);
    return;
  }
  HERALD_FUZZ_CHECK(s.source == source);
  check_round_trip(config::node_settings(), s);
  for (const auto& [name, ns] : s.namespaces)
    check_round_trip(config::namespace_options(), ns);
  // Projection and query names become file names and URL segments; queries
  // name a projection that exists.
  for (const auto& p : s.projection_defs) {
    HERALD_FUZZ_CHECK(!p.name.empty() && p.name.size() <= 64);
    HERALD_FUZZ_CHECK(p.name.find_first_of("./\\") == std::string::npos);
    HERALD_FUZZ_CHECK(!p.handlers.empty());
  }
  for (const auto& q : s.query_defs) {
    HERALD_FUZZ_CHECK(!q.name.empty() && q.name.size() <= 64);
    bool known = false;
    for (const auto& p : s.projection_defs)
      known = known || p.name == q.projection;
    HERALD_FUZZ_CHECK(known);
  }
}

} // namespace herald::fuzz

HERALD_FUZZ_TARGET(herald::fuzz::config)
