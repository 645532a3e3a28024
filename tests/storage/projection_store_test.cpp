// The projection's files through projection_store: a first build promoted to
// live-1, the current generation found again, crash leftovers deleted, a
// changed definition noticed, snapshots kept and used to seed a rebuild (an
// unusable one skipped), and a directory that cannot be read (the process
// out of file descriptors) reported as a temporary I/O failure.
#include "storage/projection_store.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace herald::test {
namespace {

namespace fs = std::filesystem;
using storage::projection_store;

config::projection_def positions(const std::string& schema_extra = "") {
  config::projection_def def{
    "p", "CREATE TABLE t (position INTEGER PRIMARY KEY);" + schema_extra, {}, 1, {}};
  def.handlers.push_back({"", {}, "INSERT INTO t VALUES (:position)", 2, false, {}});
  return def;
}

std::vector<storage::event_view> events(uint64_t from, uint64_t to) {
  std::vector<storage::event_view> out;
  for (uint64_t p = from; p <= to; ++p)
    out.push_back({p, "s", p, "t", "", 0, "", ""});
  return out;
}

const projection_store::snapshot_skipped no_skips = [](const std::string& path,
                                                       const std::string& why) {
  ADD_FAILURE() << "skipped " << path << ": " << why;
};

/// A store whose first generation is built up to `to` and promoted.
std::unique_ptr<storage::read_model> first_build(projection_store& store, uint64_t to) {
  auto build = store.begin_rebuild(0, to, no_skips);
  EXPECT_EQ(build.generation, 1u);
  EXPECT_EQ(build.from, 0u);
  build.model->apply(events(1, to));
  return store.promote(std::move(build.model), build.generation);
}

TEST(projection_store, an_empty_directory_has_no_current_generation) {
  temp_dir dir;
  projection_store store(dir.path().string(), positions(), 2);
  auto current = store.open_current();
  EXPECT_EQ(current.model, nullptr);
  EXPECT_EQ(current.generation, 0u);
  EXPECT_TRUE(current.damaged.empty());
  EXPECT_TRUE(fs::is_directory(dir.path() / "projections" / "p"));
}

TEST(projection_store, a_promoted_build_is_the_current_generation_next_time) {
  temp_dir dir;
  {
    projection_store store(dir.path().string(), positions(), 2);
    auto model = first_build(store, 5);
    EXPECT_EQ(model->checkpoint(), 5u);
    EXPECT_EQ(model->path(), store.dir().generation_path(1));
    EXPECT_TRUE(store.dir().builds().empty());
  }
  projection_store store(dir.path().string(), positions(), 2);
  auto current = store.open_current();
  ASSERT_NE(current.model, nullptr);
  EXPECT_EQ(current.generation, 1u);
  EXPECT_EQ(current.model->checkpoint(), 5u);
  EXPECT_TRUE(current.model->complete());
}

TEST(projection_store, a_build_left_by_a_crash_is_deleted_and_reported) {
  temp_dir dir;
  {
    projection_store store(dir.path().string(), positions(), 2);
    auto model = first_build(store, 3);
    auto build = store.begin_rebuild(1, 3, no_skips);
    EXPECT_EQ(build.generation, 2u);
    build.model->apply(events(1, 2));
  } // "crash": the build is never promoted
  projection_store store(dir.path().string(), positions(), 2);
  auto current = store.open_current();
  EXPECT_EQ(current.abandoned_builds, std::vector<uint64_t>{2});
  EXPECT_TRUE(store.dir().builds().empty());
  ASSERT_NE(current.model, nullptr);
  EXPECT_EQ(current.model->checkpoint(), 3u);
}

TEST(projection_store, a_changed_definition_is_noticed_and_its_file_deleted) {
  temp_dir dir;
  {
    projection_store store(dir.path().string(), positions(), 2);
    first_build(store, 3);
  }
  projection_store store(dir.path().string(), positions("CREATE TABLE u (x);"), 2);
  auto current = store.open_current();
  EXPECT_TRUE(current.definition_changed);
  EXPECT_EQ(current.model, nullptr);
  EXPECT_TRUE(store.dir().generations().empty());
}

TEST(projection_store, a_damaged_current_generation_is_reported_and_kept) {
  temp_dir dir;
  {
    projection_store store(dir.path().string(), positions(), 2);
    first_build(store, 3);
  }
  projection_store store(dir.path().string(), positions(), 2);
  std::ofstream(store.dir().generation_path(1), std::ios::trunc) << "not a database at all....";
  auto current = store.open_current();
  EXPECT_EQ(current.model, nullptr);
  EXPECT_FALSE(current.damaged.empty());
  EXPECT_EQ(current.generation, 1u);
  EXPECT_EQ(store.dir().generations().size(), 1u); // left for an operator
}

TEST(projection_store, snapshots_keep_the_newest_and_seed_a_rebuild) {
  temp_dir dir;
  projection_store store(dir.path().string(), positions(), 2);
  auto model = first_build(store, 2);
  for (uint64_t to : {4, 6, 8}) {
    model->apply(events(model->checkpoint() + 1, to));
    store.snapshot(*model);
  }
  auto snaps = store.dir().snapshots();
  ASSERT_EQ(snaps.size(), 2u);
  EXPECT_EQ(snaps[0].number, 8u);
  EXPECT_EQ(snaps[1].number, 6u);
  // A rebuild that must hold nothing past 7 passes over snapshot 8 and
  // starts from snapshot 6.
  std::vector<std::string> skipped;
  auto build = store.begin_rebuild(
    1, 7, [&](const std::string& path, const std::string&) { skipped.push_back(path); });
  EXPECT_EQ(skipped, std::vector<std::string>{store.dir().snapshot_path(8)});
  EXPECT_EQ(build.generation, 2u);
  EXPECT_EQ(build.from, 6u);
  EXPECT_EQ(build.model->checkpoint(), 6u);
  build.model->apply(events(7, 8));
  auto live = store.promote(std::move(build.model), 2);
  EXPECT_EQ(live->checkpoint(), 8u);
  store.prune_generations_before(2);
  auto gens = store.dir().generations();
  ASSERT_EQ(gens.size(), 1u);
  EXPECT_EQ(gens[0].number, 2u);
}

TEST(projection_store, an_unusable_snapshot_is_skipped_for_an_older_one) {
  temp_dir dir;
  projection_store store(dir.path().string(), positions(), 3);
  auto model = first_build(store, 2);
  store.snapshot(*model);
  model->apply(events(3, 4));
  store.snapshot(*model);
  std::ofstream(store.dir().snapshot_path(4), std::ios::trunc) << "garbage garbage garbage";
  std::vector<std::string> skipped;
  auto build = store.begin_rebuild(
    1, 4, [&](const std::string& path, const std::string&) { skipped.push_back(path); });
  EXPECT_EQ(skipped, std::vector<std::string>{store.dir().snapshot_path(4)});
  EXPECT_EQ(build.from, 2u);
  EXPECT_EQ(build.model->checkpoint(), 2u);
}

TEST(projection_store, an_abandoned_build_leaves_no_file) {
  temp_dir dir;
  projection_store store(dir.path().string(), positions(), 2);
  auto build = store.begin_rebuild(0, 0, no_skips);
  auto path = build.model->path();
  store.abandon(std::move(build.model));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(store.dir().builds().empty());
}

/// Uses up the process's file descriptors (under a lowered limit) while it
/// lives, as a busy process may: every open() fails with EMFILE.
class out_of_file_descriptors {
public:
  out_of_file_descriptors() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lower = saved_;
    int probe = ::open("/dev/null", O_RDONLY);
    lower.rlim_cur = static_cast<rlim_t>(probe) + 8;
    ::close(probe);
    setrlimit(RLIMIT_NOFILE, &lower);
    for (;;) {
      int fd = ::open("/dev/null", O_RDONLY);
      if (fd < 0) {
        EXPECT_EQ(errno, EMFILE);
        break;
      }
      held_.push_back(fd);
    }
  }
  ~out_of_file_descriptors() {
    for (int fd : held_)
      ::close(fd);
    setrlimit(RLIMIT_NOFILE, &saved_);
  }

private:
  rlimit saved_{};
  std::vector<int> held_;
};

TEST(projection_store, a_directory_that_cannot_be_listed_is_a_temporary_io_failure) {
  temp_dir dir;
  projection_store store(dir.path().string(), positions(), 2);
  {
    out_of_file_descriptors exhausted;
    try {
      store.open_current();
      ADD_FAILURE() << "listed the directory without a file descriptor";
    } catch (const storage::failure& f) {
      EXPECT_EQ(f.code(), storage::errc::io) << f.what();
      EXPECT_TRUE(storage::is_temporary(f.code()));
      EXPECT_NE(std::string(f.what()).find("projections"), std::string::npos) << f.what();
    }
  }
  // Once descriptors are free again, the same store works.
  EXPECT_NO_THROW(store.open_current());
}

} // namespace
} // namespace herald::test
