// A whole node (journal, channels, projections, queries) on a temp data
// directory, for actor tests that need more than the journal.
#pragma once

#include "actors/node.hpp"
#include "actors/system_config.hpp"
#include "config/loader.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/journal_reader.hpp"
#include "storage/projection_dir.hpp"
#include "storage/sqlite.hpp"
#include "tests/support/temp_dir.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>

namespace herald::test {

using namespace std::chrono_literals;

/// The embedded chat demo with its data in `dir`, durability normal (the
/// tests kill processes, not machines).
inline config::settings demo_settings(const temp_dir& dir) {
  auto s = config::load({});
  s.server.data_dir = dir.path().string();
  s.journal.mode = config::durability::normal;
  return s;
}

/// Owns an actor system running one node.
class node_harness {
public:
  explicit node_harness(config::settings s)
    : settings(std::move(s)), cfg(settings), sys(cfg), self(sys),
      node(actors::start_node(sys, settings)) {}

  ~node_harness() {
    actors::stop_node(node);
  }

  storage::append_result append(const std::string& stream, const std::string& type,
                                const std::string& data_json, std::string id = "") {
    std::string data, error;
    EXPECT_TRUE(protocol::json_to_msgpack(data_json, data, error)) << error;
    storage::append_result out;
    storage::append_request req{stream,
                                storage::expected_version::any(),
                                {storage::new_event{type, std::move(id), "", data}}};
    self->request(node.journal, 10s, actors::append_atom_v, req)
      .receive([&](const storage::append_result& r) { out = r; },
               [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  }

  /// Waits until projection `name` has applied everything up to `position`.
  uint64_t caught_up(const std::string& name, uint64_t position) {
    uint64_t cp = 0;
    self
      ->request(node.projections, 60s, actors::applied_atom_v, name,
                storage::journal_position{position})
      .receive([&](storage::journal_position c) { cp = c.value; },
               [&](const caf::error& e) { ADD_FAILURE() << name << ": " << sys.render(e); });
    return cp;
  }

  actors::projection_status status(const std::string& name) {
    actors::projection_status out;
    self->request(node.projections, 10s, actors::status_atom_v, name)
      .receive([&](const actors::projection_status& s) { out = s; },
               [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  }

  actors::actor_stats projection_stats(const std::string& name) {
    actors::actor_stats out;
    self->request(node.projections, 10s, actors::stats_atom_v)
      .receive(
        [&](const std::vector<actors::actor_stats>& all) {
          for (const auto& s : all)
            if (s.name == "projection " + name)
              out = s;
        },
        [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  }

  /// Polls `done` (each poll a round trip to the node) until it holds or
  /// `timeout` passes; returns whether it held.
  bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done())
        return true;
      self->receive(caf::after(5ms) >> [] {}); // pace the polling
    }
    return done();
  }

  /// The current read model file of a projection.
  std::string projection_file(const std::string& name) {
    storage::projection_dir dir(settings.server.data_dir, name);
    auto gens = dir.generations();
    return gens.empty() ? std::string() : gens.back().path;
  }

  std::string journal_file() const {
    return actors::journal_path(settings);
  }

  config::settings settings;
  actors::system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  actors::node node;
};

/// Every row of every table of a read model (but _herald), as text.
inline std::map<std::string, std::vector<std::string>> dump_tables(const std::string& path) {
  std::map<std::string, std::vector<std::string>> out;
  storage::database db(path, storage::database::mode::read_only);
  auto list = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT "
                         "LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name");
  auto tables = list.use();
  std::vector<std::string> names;
  while (tables.step())
    names.emplace_back(tables.column_text(0));
  for (const auto& t : names) {
    auto select = db.prepare("SELECT * FROM \"" + t + "\" ORDER BY 1, 2");
    auto rows = select.use();
    auto& list = out[t];
    while (rows.step()) {
      std::string row;
      for (int c = 0; c < rows.column_count(); ++c)
        row += (c ? "|" : "")
               + (rows.column_is_null(c) ? std::string("NULL") : std::string(rows.column_text(c)));
      list.push_back(row);
    }
  }
  return out;
}

inline uint64_t checkpoint_of(const std::string& path) {
  storage::database db(path, storage::database::mode::read_only);
  return static_cast<uint64_t>(db.query_int("SELECT value FROM _herald WHERE key = 'checkpoint'"));
}

} // namespace herald::test
