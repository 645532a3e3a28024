#include "storage/projection_store.hpp"

#include <algorithm>
#include <filesystem>
#include <utility>

namespace herald::storage {

namespace fs = std::filesystem;

namespace {

/// A file operation's own error, in storage's vocabulary: the disk or the
/// process refused (no space, too many open files), which may pass.
[[noreturn]] void rethrow_as_failure(const fs::filesystem_error& e) {
  throw failure(errc::io, e.what());
}

void rename_file(const std::string& from, const std::string& to) {
  try {
    fs::rename(from, to);
  } catch (const fs::filesystem_error& e) {
    rethrow_as_failure(e);
  }
}

/// Why the snapshot `snap` cannot seed a rebuild of `def` that must hold no
/// event past `limit`, or "" when it can.
std::string unusable_snapshot(const projection_dir::file& snap, const config::projection_def& def,
                              uint64_t limit) {
  auto label = read_label(snap.path, true);
  if (label.fingerprint != read_model::fingerprint(def) || label.checkpoint != snap.number
      || label.checkpoint > limit)
    return snap.path + ": does not match its name or the definition";
  return "";
}

} // namespace

projection_store::projection_store(const std::string& data_dir, config::projection_def def,
                                   int64_t snapshot_keep)
  : dir_(data_dir, def.name), def_(std::move(def)), snapshot_keep_(snapshot_keep) {}

projection_store::current projection_store::open_current() {
  current out;
  for (const auto& b : dir_.builds()) {
    out.abandoned_builds.push_back(b.number);
    projection_dir::remove_database(b.path);
  }
  auto gens = dir_.generations();
  if (gens.empty())
    return out;
  out.generation = gens.back().number;
  try {
    auto model = std::make_unique<read_model>(gens.back().path, def_);
    if (model->matches_definition() && model->complete())
      out.model = std::move(model);
    else
      out.definition_changed = true;
  } catch (const failure& f) {
    out.damaged = f.what();
    return out;
  }
  for (const auto& g : gens)
    if (!out.model || g.number != out.generation)
      projection_dir::remove_database(g.path);
  return out;
}

projection_store::build projection_store::begin_rebuild(uint64_t generation, uint64_t limit,
                                                        const snapshot_skipped& skipped) {
  build b;
  uint64_t newest = generation;
  for (const auto& g : dir_.generations())
    newest = std::max(newest, g.number);
  b.generation = newest + 1;
  auto path = dir_.build_path(b.generation);
  projection_dir::remove_database(path);
  for (const auto& snap : dir_.snapshots()) {
    try {
      if (auto why = unusable_snapshot(snap, def_, limit); !why.empty())
        throw failure(errc::corrupt, why);
      fs::copy_file(snap.path, path, fs::copy_options::overwrite_existing);
      b.from = snap.number;
      break;
    } catch (const std::exception& e) {
      skipped(snap.path, e.what());
      projection_dir::remove_database(path);
    }
  }
  b.model = std::make_unique<read_model>(path, def_, true);
  return b;
}

std::unique_ptr<read_model> projection_store::promote(std::unique_ptr<read_model> built,
                                                      uint64_t generation) {
  try {
    built->mark_complete();
    auto path = built->path();
    built.reset(); // checkpoints and removes its WAL
    rename_file(path, dir_.generation_path(generation));
    return std::make_unique<read_model>(dir_.generation_path(generation), def_);
  } catch (...) {
    built.reset();
    projection_dir::remove_database(dir_.build_path(generation));
    throw;
  }
}

void projection_store::abandon(std::unique_ptr<read_model> built) {
  auto path = built->path();
  built.reset();
  projection_dir::remove_database(path);
}

void projection_store::prune_generations_before(uint64_t generation) {
  for (const auto& g : dir_.generations())
    if (g.number < generation)
      projection_dir::remove_database(g.path);
}

void projection_store::snapshot(read_model& model) {
  auto tmp = dir_.snapshot_temp_path();
  try {
    model.copy_to(tmp);
  } catch (const fs::filesystem_error& e) {
    rethrow_as_failure(e);
  }
  rename_file(tmp, dir_.snapshot_path(model.checkpoint()));
  auto snaps = dir_.snapshots();
  for (size_t i = static_cast<size_t>(snapshot_keep_); i < snaps.size(); ++i)
    projection_dir::remove_database(snaps[i].path);
}

} // namespace herald::storage
