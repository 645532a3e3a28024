// Shared helpers for journal tests: a journal in a temp dir and short ways to
// build appends.
#pragma once

#include "storage/journal.hpp"
#include "storage/journal_reader.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace herald::test {

inline storage::new_event event(std::string type, std::string data = "d", std::string id = "") {
  return {std::move(type), std::move(id), "", std::move(data)};
}

inline storage::append_request append(std::string stream, storage::expected_version ev,
                                      std::vector<storage::new_event> events) {
  return {std::move(stream), ev, std::move(events)};
}

class journal_fixture : public ::testing::Test {
protected:
  void SetUp() override {
    open();
  }

  void open(config::durability d = config::durability::full) {
    journal.reset();
    storage::journal_options o;
    o.path = path();
    o.durability = d;
    o.id_fold_events = id_fold_events;
    journal = std::make_unique<storage::journal>(o);
  }

  std::string path() const {
    return dir.file("journal.db");
  }

  storage::journal_reader reader() const {
    return storage::journal_reader(path());
  }

  /// Appends one request alone and returns its result.
  storage::append_result one(storage::append_request r) {
    std::vector<storage::append_request> batch;
    batch.push_back(std::move(r));
    return journal->append(batch).at(0);
  }

  temp_dir dir;
  std::unique_ptr<storage::journal> journal;
  uint64_t id_fold_events = storage::journal_options{}.id_fold_events;
};

} // namespace herald::test
