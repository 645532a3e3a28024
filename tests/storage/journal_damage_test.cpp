// Files herald must refuse: damaged, truncated, foreign, or from a newer
// herald. Each gives a clear error naming the file, never a crash, and a file
// of a newer format is left exactly as it was.
#include "storage/journal_format.hpp"
#include "tests/storage/journal_fixture.hpp"

#include <linux/fs.h>
#include <sqlite3.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

namespace herald::test {
namespace {

using storage::errc;
using storage::expected_version;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_at(const std::string& path, size_t offset, const std::string& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void sql(const std::string& path, const char* text) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, text, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

class damage_test : public journal_fixture {
protected:
  void SetUp() override {
    journal_fixture::SetUp();
    for (int i = 0; i < 400; ++i)
      one(append("s" + std::to_string(i % 7), expected_version::any(),
                 {event("t", std::string(200, static_cast<char>('a' + i % 26)))}));
    journal.reset(); // closes and checkpoints: everything is in the main file
    ASSERT_FALSE(std::filesystem::exists(path() + "-wal"));
  }

  /// Replaces the file with a fresh intact one.
  void fresh() {
    journal.reset();
    for (auto suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path() + suffix);
    SetUp();
  }

  /// Opens the writer and a reader, reads everything and appends (which
  /// probes the id index); returns the failure this raised, if any.
  std::optional<storage::failure> open_and_use(bool verify) {
    try {
      storage::journal_options o;
      o.path = path();
      o.verify_on_open = verify;
      storage::journal j(o);
      storage::journal_reader r(path());
      r.read_all(1, 1000000);
      for (int i = 0; i < 7; ++i)
        r.read_stream("s" + std::to_string(i), 1, storage::direction::forward, 1000);
      for (int i = 0; i < 20; ++i)
        one_on(j, append("s" + std::to_string(i % 7), expected_version::any(),
                         {event("t", "new", "id-" + std::to_string(i))}));
    } catch (const storage::failure& f) {
      return f;
    }
    return std::nullopt;
  }

  static void one_on(storage::journal& j, storage::append_request r) {
    std::vector<storage::append_request> batch;
    batch.push_back(std::move(r));
    j.append(batch);
  }

  /// Makes `what` (the journal or its directory) unwritable and expects the
  /// writer to refuse the journal, clearly, changing nothing.
  void expect_refused_unwritable(const std::string& what);

  /// The failure damage must cause: corrupt, naming the file.
  void expect_refused(const std::optional<storage::failure>& f, const std::string& what) {
    ASSERT_TRUE(f.has_value()) << what << ": the damaged journal was accepted";
    EXPECT_EQ(f->code(), errc::corrupt) << what << ": " << f->what();
    EXPECT_NE(std::string(f->what()).find(path()), std::string::npos) << f->what();
  }
};

TEST_F(damage_test, an_intact_file_reopens_with_everything) {
  storage::journal_options o;
  o.path = path();
  o.verify_on_open = true;
  storage::journal j(o);
  EXPECT_EQ(j.head(), 400u);
  EXPECT_EQ(reader().read_all(1, 1000).size(), 400u);
}

TEST_F(damage_test, truncated_files_are_refused) {
  // Cut at half, one page short, one page, and inside the header.
  for (int cut = 0; cut < 4; ++cut) {
    fresh();
    auto full = std::filesystem::file_size(path());
    uintmax_t sizes[] = {full / 2, full - 4096, 4096, 50};
    std::filesystem::resize_file(path(), sizes[cut]);
    expect_refused(open_and_use(false), "size " + std::to_string(sizes[cut]));
  }
}

TEST_F(damage_test, an_empty_file_is_refused_not_replaced) {
  std::filesystem::resize_file(path(), 0);
  auto f = open_and_use(false);
  expect_refused(f, "empty");
  EXPECT_NE(std::string(f->what()).find("empty"), std::string::npos) << f->what();
  EXPECT_EQ(std::filesystem::file_size(path()), 0u);
}

TEST_F(damage_test, a_garbled_header_is_refused) {
  write_at(path(), 0, std::string(100, '\x5a'));
  expect_refused(open_and_use(false), "garbled header");
}

// Damage inside the file is found when a damaged page is used; with
// journal.verify_on_open it is found at start, wherever it is.
TEST_F(damage_test, garbled_pages_are_reported_not_crashed_on) {
  std::mt19937 rng(7);
  // Overwrite whole pages past the header (page 1) with random bytes.
  for (int round = 0; round < 10; ++round) {
    fresh();
    auto size = std::filesystem::file_size(path());
    std::string junk(4096, '\0');
    for (auto& c : junk)
      c = static_cast<char>(rng());
    size_t page = 1 + rng() % (size / 4096 - 1);
    write_at(path(), page * 4096, junk);
    std::string what = "page " + std::to_string(page);
    expect_refused(open_and_use(true), what + " (verified)");
    if (auto f = open_and_use(false)) { // found or not, never a crash
      EXPECT_EQ(f->code(), errc::corrupt) << what << ": " << f->what();
    }
  }
}

TEST_F(damage_test, a_newer_format_is_refused_and_left_unchanged) {
  const auto newer = std::to_string(storage::journal_format::version + 1);
  sql(path(), ("PRAGMA user_version = " + newer).c_str());
  auto before = slurp(path());
  try {
    storage::journal_options o;
    o.path = path();
    storage::journal j(o);
    FAIL() << "a newer format was opened";
  } catch (const storage::failure& f) {
    EXPECT_EQ(f.code(), errc::format_too_new);
    EXPECT_NE(std::string(f.what()).find("journal format " + newer), std::string::npos) << f.what();
  }
  EXPECT_THROW(storage::journal_reader r(path()), storage::failure);
  EXPECT_EQ(slurp(path()), before);
}

TEST_F(damage_test, a_foreign_database_is_refused) {
  std::filesystem::remove(path());
  sql(path(), "CREATE TABLE users (name TEXT)");
  auto f = open_and_use(false);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->code(), errc::not_a_journal) << f->what();
  std::filesystem::remove(path());
  sql(path(), "PRAGMA user_version = 5");
  f = open_and_use(false);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->code(), errc::not_a_journal) << f->what();
}

/// Makes a file or directory unwritable for as long as it lives: no write
/// permission, and, since that does not stop root, the immutable attribute
/// as well where the file system has it. `ok` says whether it worked.
class unwritable {
public:
  explicit unwritable(const std::string& path) : path_(path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    mode_ = st.st_mode & 07777;
    ::chmod(path.c_str(), mode_ & ~0222);
    if (::geteuid() == 0) {
      int fd = ::open(path.c_str(), O_RDONLY);
      int flags = 0;
      if (fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags |= FS_IMMUTABLE_FL;
        immutable_ = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
      }
      if (fd >= 0)
        ::close(fd);
    }
    ok = ::access(path.c_str(), W_OK) != 0;
  }

  ~unwritable() {
    if (immutable_) {
      int fd = ::open(path_.c_str(), O_RDONLY);
      int flags = 0;
      if (fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags &= ~FS_IMMUTABLE_FL;
        ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
      }
      if (fd >= 0)
        ::close(fd);
    }
    ::chmod(path_.c_str(), mode_);
  }

  bool ok = false;

private:
  std::string path_;
  mode_t mode_ = 0;
  bool immutable_ = false;
};

// SQLite opens a file it may not write read-only, without a word (every
// append would then fail), and a directory it may not write gives "unable to
// open database file". The writer refuses both at open, naming the file and
// the reason, and leaves the journal readable and unchanged.
TEST_F(damage_test, a_journal_it_may_not_write_is_refused_at_open) {
  for (bool whole_directory : {false, true}) {
    SCOPED_TRACE(whole_directory ? "directory" : "file");
    expect_refused_unwritable(whole_directory ? dir.path().string() : path());
  }
  EXPECT_FALSE(open_and_use(false).has_value()); // writable again: all is well
}

void damage_test::expect_refused_unwritable(const std::string& what) {
  auto before = slurp(path());
  {
    unwritable guard(what);
    if (!guard.ok)
      GTEST_SKIP() << "cannot make a file unwritable here (root without the immutable attribute)";
    try {
      storage::journal_options o;
      o.path = path();
      storage::journal j(o);
      FAIL() << "a journal that cannot be written was opened for writing";
    } catch (const storage::failure& f) {
      EXPECT_EQ(f.code(), errc::io) << f.what();
      EXPECT_TRUE(storage::is_temporary(f.code()));
      EXPECT_NE(std::string(f.what()).find(path() + ": the journal cannot be written ("),
                std::string::npos)
        << f.what();
      EXPECT_NE(std::string(f.what()).find("writable data directory"), std::string::npos)
        << f.what();
    }
    if (what == path()) { // a reader needs -shm beside it
      storage::journal_reader r(path());
      EXPECT_EQ(r.read_all(1, 1000).size(), 400u);
    }
  }
  EXPECT_EQ(slurp(path()), before);
}

} // namespace
} // namespace herald::test
