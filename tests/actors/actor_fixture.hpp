// A CAF actor system for actor tests, with a journal in a temp directory.
#pragma once

#include "actors/errors.hpp"
#include "actors/journal_actor.hpp"
#include "actors/reader_actor.hpp"
#include "actors/system_config.hpp"
#include "storage/journal.hpp"
#include "tests/support/temp_dir.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <gtest/gtest.h>

#include <memory>

namespace herald::test {

using namespace std::chrono_literals;

class actor_fixture : public ::testing::Test {
protected:
  actor_fixture() : actor_fixture(config::settings{}) {}
  /// An actor system configured from `s` (its scheduler threads, say).
  explicit actor_fixture(const config::settings& s) : cfg(s), sys(cfg), self(sys) {}

  ~actor_fixture() override {
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  /// Opens the journal (if not open yet) and spawns its actor and readers.
  void start_journal(config::journal_settings js = {}) {
    storage::journal_options o;
    o.path = dir.file("journal.db");
    o.durability = js.mode;
    journal_file = std::make_shared<storage::journal>(o);
    journal = actors::spawn_journal(sys, journal_file, js);
    readers = actors::spawn_readers(sys, o.path, 2);
    spawned.push_back(caf::actor_cast<caf::actor>(journal));
    spawned.push_back(caf::actor_cast<caf::actor>(readers));
  }

  /// Appends one event synchronously; returns the result or fails the test.
  storage::append_result append(const std::string& stream, storage::expected_version ev,
                                std::string data = "x", std::string type = "t") {
    storage::append_result out;
    storage::append_request req{stream, ev, {storage::new_event{type, "", "", data}}};
    self->request(journal, 10s, actors::append_atom_v, req)
      .receive([&](const storage::append_result& r) { out = r; },
               [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  }

  test::temp_dir dir;
  actors::system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::shared_ptr<storage::journal> journal_file;
  actors::journal_actor journal;
  actors::reader_actor readers;
  std::vector<caf::actor> spawned;
};

} // namespace herald::test
