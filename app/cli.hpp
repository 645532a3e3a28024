// The command line: which command to run and the settings it loads.
#pragma once

#include "config/loader.hpp"

#include <string>

namespace herald::app {

enum class command : uint8_t { serve, print_config, check, help, version };

struct command_line {
  command cmd = command::help;
  config::load_options load;
};

/// Parses argv. Throws config::config_error (one line) on a bad flag.
command_line parse_command_line(int argc, const char* const* argv);

/// `herald --help`: usage and every setting with default, bounds and meaning.
std::string help_text();

/// `herald --version`.
std::string version_text();

/// The effective settings in TOML form (`herald config`).
std::string settings_as_toml(const config::settings& s);

} // namespace herald::app
