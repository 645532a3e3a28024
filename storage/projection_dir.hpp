// The files of one projection under <data_dir>/projections/<name>/:
//
//   live-000001.db   generations of the read model; the newest is current
//   build-000002.db  a generation being built (a rebuild, or the first
//                    build); renamed to live-… once it has caught up. Left
//                    over after a crash, it is deleted.
//   snap-<pos>.db    snapshots: consistent copies labelled with the
//                    position they hold (last journal.snapshot_keep kept)
//
// Generations are never renamed over each other: SQLite's WAL files belong
// to a path, and queries may still read the previous generation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace herald::storage {

class projection_dir {
public:
  /// Creates the directory if needed. Listing and creating throw
  /// storage::failure (errc::io) when the system refuses.
  projection_dir(const std::string& data_dir, const std::string& name);

  const std::string& path() const {
    return path_;
  }

  struct file {
    uint64_t number; ///< generation number, or snapshot position
    std::string path;
  };

  /// Generations, oldest first.
  std::vector<file> generations() const;
  std::string generation_path(uint64_t number) const;
  /// Generations being built (left over only by a crash).
  std::vector<file> builds() const;
  std::string build_path(uint64_t number) const;

  /// Snapshots, newest (highest position) first.
  std::vector<file> snapshots() const;
  std::string snapshot_path(uint64_t position) const;
  /// Where a snapshot is written before it is renamed into place.
  std::string snapshot_temp_path() const;

  /// Removes a database file with its -wal and -shm companions.
  static void remove_database(const std::string& path);

private:
  std::vector<file> list(const std::string& prefix) const;
  std::string path_;
};

} // namespace herald::storage
