// Opening a journal file and checking that it is one this herald can use:
// ours (application_id), of a format we know (user_version), and readable.
// Shared by the writer, which may create the file, and the readers.
#pragma once

#include "storage/sqlite.hpp"

#include <memory>
#include <string>

namespace herald::storage {

struct opened_journal {
  std::unique_ptr<database> db;
  std::string journal_id;
};

/// Opens (and when `create` is set and the file is new, creates) a journal.
/// Throws failure: not_a_journal, format_too_new, corrupt, io.
opened_journal open_journal_file(const std::string& path, bool create, bool writer);

/// Runs SQLite's quick_check; throws failure(corrupt) with its first finding.
void verify_journal(database& db);

} // namespace herald::storage
