// herald's entry point: parse the command line, load the settings, run the
// command. Configuration problems print one line and exit with status 2.
#include "app/check.hpp"
#include "app/cli.hpp"
#include "app/serve.hpp"
#include "config/loader.hpp"
#include "storage/errors.hpp"

#include <spdlog/spdlog.h>

#include <iostream>

namespace {

spdlog::level::level_enum to_spdlog(herald::config::log_level l) {
  using herald::config::log_level;
  switch (l) {
    case log_level::trace:
      return spdlog::level::trace;
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
    case log_level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

} // namespace

int main(int argc, char** argv) {
  using namespace herald;
  app::command_line cl;
  config::settings settings;
  try {
    cl = app::parse_command_line(argc, argv);
    if (cl.cmd == app::command::help) {
      std::cout << app::help_text();
      return 0;
    }
    if (cl.cmd == app::command::version) {
      std::cout << app::version_text();
      return 0;
    }
    settings = config::load(cl.load);
  } catch (const config::config_error& e) {
    std::cerr << "herald: " << e.what() << "\n";
    return 2;
  }
  // serve, check and config accept the same files: SQL that does not compile
  // is a configuration error, found before anything is opened or bound.
  if (auto problem = app::check_settings(settings); !problem.empty()) {
    std::cerr << "herald: " << problem << "\n";
    return 2;
  }
  if (cl.cmd == app::command::check) {
    std::cout << "ok\n";
    return 0;
  }
  if (cl.cmd == app::command::print_config) {
    std::cout << app::settings_as_toml(settings);
    return 0;
  }
  spdlog::set_level(to_spdlog(settings.server.level));
  try {
    return app::serve(settings);
  } catch (const config::config_error& e) {
    std::cerr << "herald: " << e.what() << "\n";
    return 2;
  } catch (const storage::failure& e) {
    spdlog::critical("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
