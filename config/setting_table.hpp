// The catalogue of scalar settings: for each one its dotted key, a one-line
// description, its bounds, and how to parse and print it. The file loader, the
// command line and `herald --help` all read this one table, so a setting added
// here is documented and overridable everywhere at once.
#pragma once

#include "config/settings.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::config {

/// Which TOML value types a setting accepts in the file.
enum class toml_kind : uint8_t { integer, string, boolean, integer_or_string };

template <class Root>
struct setting {
  std::string key;
  std::string description;
  std::string bounds;
  toml_kind accepts;
  /// Parses `text` into the field; returns the reason when it is invalid.
  std::function<std::optional<std::string>(Root&, std::string_view)> parse;
  std::function<std::string(const Root&)> format;
};

/// How a secret setting (tokens.hmac_secret, http.api_key) prints when it
/// is set: its value is never printed.
inline constexpr std::string_view hidden_secret = "(set)";

/// Node-wide settings, keys like "journal.durability".
const std::vector<setting<settings>>& node_settings();

/// Options of one namespace, keys like "publish"; in the file they sit under
/// [namespaces.NAME], on the command line as --namespaces.NAME.publish=...
const std::vector<setting<namespace_settings>>& namespace_options();

template <class Root>
const setting<Root>* find_setting(const std::vector<setting<Root>>& table, std::string_view key) {
  for (const auto& s : table)
    if (s.key == key)
      return &s;
  return nullptr;
}

/// Whether `key` names a node setting ("journal.durability") or a namespace
/// option ("namespaces.NAME.publish"): what --KEY may set.
bool is_setting_key(std::string_view key);

std::string_view to_string(durability d);
std::string_view to_string(log_level l);
std::string_view to_string(permission p);

} // namespace herald::config
