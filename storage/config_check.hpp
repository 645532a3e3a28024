// Checks a configuration's SQL before anything is opened: each projection's
// schema runs in a scratch in-memory database, each handler and each query
// prepares against it, and the rules of read_model and query_runner hold
// (known parameters, one read-only query statement), and each stream
// processor's statement prepares over its read models (processor_sql.hpp). `herald serve`,
// `herald check` and `herald config` run it, so a bad file is refused with
// one line naming the line of the SQL at fault, before any data directory
// is touched.
#pragma once

#include "config/settings.hpp"

#include <string>

namespace herald::storage {

/// The first problem as one line, "FILE:LINE: projection \"chat\" handler:
/// SQL error: ...", or "" when every definition is fine. LINE is the line
/// of the SQL's error where SQLite reports an offset, else where the SQL
/// starts.
std::string check_definitions(const config::settings& s);

} // namespace herald::storage
