#include "actors/journal_actor.hpp"

#include "actors/counters.hpp"
#include "actors/errors.hpp"
#include "actors/shared_send.hpp"
#include "storage/journal.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

namespace herald::actors {

namespace {

struct journal_state {
  static inline const char* name = "journal";
  std::shared_ptr<storage::journal> journal;
  config::journal_settings settings;
  std::vector<storage::append_request> pending;
  std::vector<caf::typed_response_promise<storage::append_result>> promises;
  size_t pending_bytes = 0;
  bool flush_scheduled = false;
  std::vector<batch_listener> listeners;
  counters stats;
  // Role figures.
  uint64_t batches = 0;
  uint64_t events = 0;
  uint64_t appends = 0;
  uint64_t largest_batch = 0;
  uint64_t last_batch = 0;
  uint64_t commit_ns = 0;
  uint64_t rejected = 0;
  uint64_t failed_batches = 0;
  /// Since the last batch failed (disk full, read-only, I/O error) and until
  /// one commits again: logged once at each end, not per batch.
  bool failing = false;
};

using self_ptr = journal_actor::stateful_pointer<journal_state>;

size_t payload_bytes(const storage::append_request& r) {
  size_t n = r.stream.size();
  for (const auto& e : r.events)
    n += e.data.size() + e.meta.size() + e.type.size() + e.id.size();
  return n;
}

void flush(self_ptr self) {
  auto& st = self->state;
  if (st.pending.empty())
    return;
  auto pending = std::move(st.pending);
  auto promises = std::move(st.promises);
  st.pending.clear();
  st.promises.clear();
  st.pending_bytes = 0;
  event_batch committed;
  auto start = counters::clock::now();
  try {
    auto results = st.journal->append(pending, &committed);
    if (st.failing) {
      spdlog::info("journal: appends work again ({} batches failed so far)", st.failed_batches);
      st.failing = false;
    }
    st.commit_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(counters::clock::now() - start).count());
    for (size_t i = 0; i < promises.size(); ++i)
      promises[i].deliver(std::move(results[i]));
  } catch (const storage::failure& f) {
    ++st.failed_batches;
    if (!st.failing)
      spdlog::error("journal: appends fail{}: {}",
                    storage::is_temporary(f.code()) ? " until the disk accepts writes again" : "",
                    f.what());
    st.failing = true;
    auto err = from_failure(f);
    for (auto& p : promises)
      p.deliver(err);
    return;
  }
  ++st.batches;
  st.appends += pending.size();
  st.events += committed.size();
  st.last_batch = committed.size();
  st.largest_batch = std::max<uint64_t>(st.largest_batch, committed.size());
  if (committed.empty() || st.listeners.empty())
    return;
  // One message, shared by every listener.
  auto msg = caf::make_message(committed_atom_v, std::move(committed));
  for (auto& l : st.listeners)
    send_shared(self, l, msg);
}

journal_actor::behavior_type journal_impl(self_ptr self, std::shared_ptr<storage::journal> j,
                                          config::journal_settings settings) {
  self->state.journal = std::move(j);
  self->state.settings = settings;
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& ls = self->state.listeners;
    ls.erase(std::remove_if(ls.begin(), ls.end(),
                            [&](const batch_listener& l) { return l.address() == dm.source; }),
             ls.end());
  });
  return {
    [self](append_atom, storage::append_request& req) -> caf::result<storage::append_result> {
      auto& st = self->state;
      auto scope = st.stats.measure();
      // The depth is sampled every 64 messages: an overload is noticed
      // within 64 appends, and the common case stays cheap; a sample over
      // the limit is taken again before refusing.
      const auto limit = static_cast<uint64_t>(st.settings.max_queue);
      st.stats.sample(self);
      if (st.stats.mailbox() > limit)
        st.stats.sample(self, true);
      if (st.stats.mailbox() > limit) {
        ++st.rejected;
        return caf::make_error(errc::overloaded, std::string("the journal queue is full"));
      }
      st.pending_bytes += payload_bytes(req);
      st.pending.push_back(std::move(req));
      auto promise = self->make_response_promise<storage::append_result>();
      st.promises.push_back(promise);
      if (st.pending.size() >= static_cast<size_t>(st.settings.max_batch_events)
          || st.pending_bytes >= static_cast<size_t>(st.settings.max_batch_bytes)) {
        flush(self);
      } else if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, flush_atom_v);
      }
      return promise;
    },
    [self](flush_atom) {
      auto scope = self->state.stats.measure();
      self->state.flush_scheduled = false;
      flush(self);
    },
    [self](listen_atom, batch_listener& l) {
      auto scope = self->state.stats.measure();
      self->monitor(l);
      self->state.listeners.push_back(std::move(l));
    },
    [self](head_atom) -> storage::journal_position {
      auto scope = self->state.stats.measure();
      return storage::journal_position{self->state.journal->head()};
    },
    [self](stats_atom) -> actor_stats {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self, true);
      auto s = st.stats.stats("journal", "journal");
      s.figures = {
        {"head", static_cast<int64_t>(st.journal->head())},
        {"batches", static_cast<int64_t>(st.batches)},
        {"appends", static_cast<int64_t>(st.appends)},
        {"events", static_cast<int64_t>(st.events)},
        {"last_batch_events", static_cast<int64_t>(st.last_batch)},
        {"largest_batch_events", static_cast<int64_t>(st.largest_batch)},
        {"commit_ns", static_cast<int64_t>(st.commit_ns)},
        {"rejected_overloaded", static_cast<int64_t>(st.rejected)},
        {"failed_batches", static_cast<int64_t>(st.failed_batches)},
        {"listeners", static_cast<int64_t>(st.listeners.size())},
      };
      return s;
    },
  };
}

} // namespace

journal_actor spawn_journal(caf::actor_system& sys, std::shared_ptr<storage::journal> journal,
                            const config::journal_settings& settings) {
  return sys.spawn<caf::detached>(journal_impl, std::move(journal), settings);
}

} // namespace herald::actors
