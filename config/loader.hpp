// Loading settings: the TOML file (or the embedded chat demo when none is
// given), then command-line overrides. Any problem throws config_error whose
// message is one line naming the source, the line where known, the setting and
// the reason; the caller prints it and exits with status 2.
#pragma once

#include "config/settings.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace herald::config {

class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// One "--key=value" from the command line, key without the dashes.
struct override_value {
  std::string key;
  std::string value;
};

struct load_options {
  std::optional<std::string> file; ///< nullopt: the embedded default
  std::vector<override_value> overrides;
};

settings load(const load_options& options);

/// Parses TOML text; `source` names it in error messages.
settings parse_toml(std::string_view text, std::string_view source);

/// Applies one override to `s`; throws config_error on a bad key or value.
void apply_override(settings& s, const override_value& o);

/// `text` with control characters written as \n, \t or \xNN, so that an
/// error message stays on one line.
std::string one_line(std::string_view text);

/// The configuration used when no file is given: the chat demo.
std::string_view embedded_default();

} // namespace herald::config
