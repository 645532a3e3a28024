// `herald serve`: the composition root that builds the node from its
// settings and runs it until SIGINT/SIGTERM.
#pragma once

#include "config/settings.hpp"

namespace herald::app {

/// Runs the node; returns the process exit status.
int serve(const config::settings& s);

} // namespace herald::app
