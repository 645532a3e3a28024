#include "storage/projection_dir.hpp"

#include "storage/errors.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace herald::storage {

namespace fs = std::filesystem;

namespace {

/// The directory's own errors are I/O failures like any other: they may
/// pass (EMFILE: too many open files; a full disk).
[[noreturn]] void fail(const std::string& path, const char* what, const std::error_code& ec) {
  throw failure(errc::io, path + ": " + what + ": " + ec.message());
}

} // namespace

projection_dir::projection_dir(const std::string& data_dir, const std::string& name)
  : path_((fs::path(data_dir) / "projections" / name).string()) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec)
    fail(path_, "cannot create the directory", ec);
}

std::vector<projection_dir::file> projection_dir::list(const std::string& prefix) const {
  std::vector<file> out;
  std::error_code ec;
  fs::directory_iterator it(path_, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const auto& entry = *it;
    auto name = entry.path().filename().string();
    if (name.size() <= prefix.size() + 3 || name.compare(0, prefix.size(), prefix) != 0
        || name.compare(name.size() - 3, 3, ".db") != 0)
      continue;
    auto digits = name.substr(prefix.size(), name.size() - prefix.size() - 3);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit))
      continue;
    out.push_back({std::stoull(digits), entry.path().string()});
  }
  if (ec)
    fail(path_, "cannot list the directory", ec);
  std::sort(out.begin(), out.end(),
            [](const file& a, const file& b) { return a.number < b.number; });
  return out;
}

std::vector<projection_dir::file> projection_dir::generations() const {
  return list("live-");
}

std::vector<projection_dir::file> projection_dir::builds() const {
  return list("build-");
}

std::string projection_dir::build_path(uint64_t number) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "build-%06llu.db", static_cast<unsigned long long>(number));
  return (fs::path(path_) / buf).string();
}

std::vector<projection_dir::file> projection_dir::snapshots() const {
  auto out = list("snap-");
  std::reverse(out.begin(), out.end());
  return out;
}

std::string projection_dir::generation_path(uint64_t number) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "live-%06llu.db", static_cast<unsigned long long>(number));
  return (fs::path(path_) / buf).string();
}

std::string projection_dir::snapshot_path(uint64_t position) const {
  char buf[40];
  std::snprintf(buf, sizeof buf, "snap-%012llu.db", static_cast<unsigned long long>(position));
  return (fs::path(path_) / buf).string();
}

std::string projection_dir::snapshot_temp_path() const {
  return (fs::path(path_) / "snapshot.tmp").string();
}

void projection_dir::remove_database(const std::string& path) {
  std::error_code ec;
  for (auto suffix : {"", "-wal", "-shm", "-journal"})
    fs::remove(path + suffix, ec);
}

} // namespace herald::storage
