// The files of one projection, as one synchronous object: it opens the
// current generation of the read model, begins a rebuild in a new generation
// (seeded from the newest sound snapshot), promotes it when it has caught
// up, takes snapshots and prunes what is no longer needed. The file layout
// is projection_dir's.
//
// I/O failures (a refused directory listing, too many open files) throw
// storage::failure with errc::io: temporary, like a full disk. A damaged
// current generation is an outcome, reported in `current`.
//
// Not thread-safe: one projection actor owns it.
#pragma once

#include "config/settings.hpp"
#include "storage/projection_dir.hpp"
#include "storage/read_model.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace herald::storage {

class projection_store {
public:
  /// Creates <data_dir>/projections/<def.name>/ when missing. Throws failure.
  projection_store(const std::string& data_dir, config::projection_def def, int64_t snapshot_keep);

  /// What open_current() found.
  struct current {
    /// The newest generation, when it is complete and matches the
    /// definition; null when there is none to use (build one).
    std::unique_ptr<read_model> model;
    uint64_t generation = 0;                ///< the newest generation's number (0: none)
    std::vector<uint64_t> abandoned_builds; ///< builds a crash left behind, now deleted
    bool definition_changed = false;        ///< the newest was written for another definition
    std::string damaged; ///< why the newest could not be opened ("" when it could)
  };

  /// Opens the newest generation, deleting builds left over by a crash and,
  /// once it is open (or found unusable), every other generation. A damaged
  /// newest generation is kept for an operator and reported. Throws failure
  /// when the directory cannot be read.
  current open_current();

  /// A new generation being built.
  struct build {
    std::unique_ptr<read_model> model;
    uint64_t generation = 0;
    uint64_t from = 0; ///< the snapshot position it starts from (0: the start)
  };

  /// Called for each snapshot a rebuild passes over, with why.
  using snapshot_skipped = std::function<void(const std::string& path, const std::string& why)>;

  /// Begins the generation after every existing one (and `generation`, the
  /// current one) in a build file, seeded from the newest snapshot that is
  /// sound, matches the definition and holds no event past `limit`. Throws
  /// failure when the build file cannot be made.
  build begin_rebuild(uint64_t generation, uint64_t limit, const snapshot_skipped& skipped);

  /// The build has caught up: it is marked complete, closed, renamed to
  /// live-N (so that no WAL file is left under the build's name) and opened
  /// again as the current model. On failure the build file is deleted and
  /// failure thrown.
  std::unique_ptr<read_model> promote(std::unique_ptr<read_model> built, uint64_t generation);

  /// Closes and deletes a build.
  void abandon(std::unique_ptr<read_model> built);

  /// Deletes the generations older than `generation`.
  void prune_generations_before(uint64_t generation);

  /// Writes a consistent copy of `model` as snap-<checkpoint> and keeps only
  /// the newest snapshot_keep snapshots. Throws failure.
  void snapshot(read_model& model);

  const projection_dir& dir() const {
    return dir_;
  }

private:
  projection_dir dir_;
  config::projection_def def_;
  int64_t snapshot_keep_;
};

} // namespace herald::storage
