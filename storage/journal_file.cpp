#include "storage/journal_file.hpp"

#include "storage/event_id_index.hpp"
#include "storage/ids.hpp"
#include "storage/journal_format.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace herald::storage {

namespace {

void create_schema(database& db) {
  uuid_generator ids;
  transaction tx(db, transaction::kind::immediate);
  db.exec(journal_format::schema);
  auto put = db.prepare("INSERT INTO journal_meta (key, value) VALUES (?1, ?2)");
  const std::string journal_id = ids.next(); // bound by reference until the run
  put.use().bind(1, std::string_view("journal_id")).bind(2, journal_id).run();
  db.exec("PRAGMA application_id = " + std::to_string(journal_format::application_id));
  db.exec("PRAGMA user_version = " + std::to_string(journal_format::version));
  tx.commit();
}

/// Builds a new journal beside `path` and renames it into place, so that a
/// crash during creation never leaves a half-made journal under the real name.
void create_journal(const std::string& path) {
  std::string tmp = path + ".creating";
  for (auto suffix : {"", "-wal", "-shm", "-journal"})
    std::filesystem::remove(tmp + suffix);
  {
    database db(tmp, database::mode::read_write_create);
    db.exec("PRAGMA journal_mode = WAL");
    create_schema(db);
  } // closing checkpoints the WAL into the file and removes it
  int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    throw failure(errc::io, path + ": cannot create the journal: " + ec.message());
  auto dir = std::filesystem::path(path).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

uint32_t big_endian(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

/// A file cut short is otherwise only noticed when a missing page is read.
/// The SQLite header records the database size in pages (valid when the
/// change counter matches "version-valid-for"); a shorter file is truncated.
/// Skipped while the WAL holds frames: a crash in the middle of a checkpoint
/// can leave the header ahead of the file, and the WAL then still has it all.
void check_not_truncated(const std::string& path) {
  std::error_code ec;
  auto wal_size = std::filesystem::file_size(path + "-wal", ec);
  if (!ec && wal_size > 0)
    return;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return;
  unsigned char header[100];
  ssize_t n = ::read(fd, header, sizeof header);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof header))
    return; // too short to be a database: SQLite itself reports it
  uint32_t page_size = (uint32_t{header[16]} << 8) | header[17];
  if (page_size == 1)
    page_size = 65536;
  uint32_t pages = big_endian(header + 28);
  bool valid = pages != 0 && big_endian(header + 24) == big_endian(header + 92);
  auto size = std::filesystem::file_size(path, ec);
  if (valid && !ec && size < uint64_t{pages} * page_size)
    throw failure(errc::corrupt, path + ": truncated: the header counts " + std::to_string(pages)
                                   + " pages of " + std::to_string(page_size)
                                   + " bytes but the file holds " + std::to_string(size)
                                   + " bytes");
}

/// Brings a journal of an older format up to journal_format::version, one
/// step per transaction (each commits its new user_version with its changes).
void migrate(database& db, int64_t from) {
  register_id_key_function(db);
  for (int64_t v = from; v < journal_format::version; ++v) {
    try {
      transaction tx(db, transaction::kind::immediate);
      db.exec(journal_format::migrations[v - 1]);
      db.exec("PRAGMA user_version = " + std::to_string(v + 1));
      tx.commit();
    } catch (const failure& e) {
      throw failure(e.code(), std::string(e.what()) + " (while upgrading the journal from format "
                                + std::to_string(v) + " to " + std::to_string(v + 1)
                                + "; it was left at format " + std::to_string(v) + ")");
    }
  }
}

[[noreturn]] void throw_unwritable(const std::string& path, int err) {
  throw failure(errc::io, path + ": the journal cannot be written (" + std::strerror(err)
                            + "); herald needs a writable data directory");
}

} // namespace

opened_journal open_journal_file(const std::string& path, bool create, bool writer) {
  if (writer) {
    // The writer creates files beside the journal (-wal, -shm); without them
    // SQLite can only say "unable to open database file".
    auto dir = std::filesystem::path(path).parent_path();
    if (::access(dir.empty() ? "." : dir.c_str(), W_OK) != 0)
      throw_unwritable(path, errno);
  }
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  if (!exists) {
    if (!(writer && create))
      throw failure(errc::io, path + ": no such journal file");
    create_journal(path);
  } else if (std::filesystem::file_size(path, ec) == 0 && !ec) {
    // Only a missing file is created: an existing empty one was most likely
    // truncated, and starting a new journal over it would hide the loss.
    throw failure(errc::corrupt, path
                                   + ": the journal file is empty (truncated?); "
                                     "move it away to start a new journal");
  }
  check_not_truncated(path);
  auto db = std::make_unique<database>(path, writer ? database::mode::read_write
                                                    : database::mode::read_only);
  // The first reads of the header detect files that are not databases at all.
  int64_t app_id = db->query_int("PRAGMA application_id");
  int64_t version = db->query_int("PRAGMA user_version");
  int64_t tables = db->query_int("SELECT count(*) FROM sqlite_schema");
  if (app_id == 0 && version == 0 && tables == 0)
    throw failure(errc::not_a_journal, path + ": an empty database, not a herald journal");
  if (app_id != journal_format::application_id)
    throw failure(errc::not_a_journal, path + ": not a herald journal (SQLite application_id is "
                                         + std::to_string(app_id) + ")");
  if (version > journal_format::version)
    throw failure(errc::format_too_new, path + ": journal format " + std::to_string(version)
                                          + " is newer than this herald supports ("
                                          + std::to_string(journal_format::version)
                                          + "); upgrade herald, the file was not changed");
  if (version < 1)
    throw failure(errc::corrupt, path + ": journal format version is missing");
  if (writer && sqlite3_db_readonly(db->handle(), "main") == 1) {
    // SQLite quietly opens a file it may not write read-only; every append
    // would then fail. Say why now, once, instead.
    throw_unwritable(path, ::access(path.c_str(), W_OK) == 0 ? EPERM : errno);
  }
  if (writer) {
    // WAL is persistent, but a file restored from elsewhere may not be in it.
    auto mode_stmt = db->prepare("PRAGMA journal_mode = WAL");
    auto mode = mode_stmt.use();
    if (!mode.step() || mode.column_text(0) != "wal")
      throw failure(errc::io, path + ": cannot switch the journal to WAL mode");
  }
  // Readers read every version up to ours alike; only writing differs.
  if (writer && version < journal_format::version)
    migrate(*db, version);
  std::string journal_id;
  {
    auto id_stmt = db->prepare("SELECT value FROM journal_meta WHERE key = 'journal_id'");
    auto id = id_stmt.use();
    if (!id.step())
      throw failure(errc::corrupt, path + ": the journal id is missing");
    journal_id = std::string(id.column_text(0));
  }
  return {std::move(db), std::move(journal_id)};
}

void verify_journal(database& db) {
  auto check_stmt = db.prepare("PRAGMA quick_check(1)");
  auto check = check_stmt.use();
  if (check.step() && check.column_text(0) != "ok")
    throw failure(errc::corrupt, db.path() + ": damaged: " + std::string(check.column_text(0)));
}

} // namespace herald::storage
