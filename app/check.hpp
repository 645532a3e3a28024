// Everything `herald serve` checks in a configuration before it starts:
// the token keys and every projection's and query's SQL. `herald check`
// and `herald config` run the same checks, so a file they accept starts.
#pragma once

#include "config/settings.hpp"

#include <string>

namespace herald::app {

/// The first problem as one line naming the file and line, or "".
std::string check_settings(const config::settings& s);

} // namespace herald::app
