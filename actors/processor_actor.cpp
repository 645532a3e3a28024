#include "actors/processor_actor.hpp"

#include "actors/counters.hpp"
#include "actors/errors.hpp"
#include "actors/journal_actor.hpp"
#include "actors/projection_manager.hpp"
#include "config/channel_rules.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/journal_reader.hpp"
#include "storage/msgpack_json.hpp"
#include "storage/processor_sql.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>

namespace herald::actors {

namespace {

using namespace std::chrono_literals;

/// A page of source events being worked on.
struct page {
  uint64_t last = 0;  ///< the last journal position it covers
  event_batch events; ///< the events the processor reads, in order
  uint64_t first = 0; ///< position of the first of `events` (0: none)
  uint64_t epoch = 0; ///< the processor's epoch when the page was read
};

/// A rebuild asked for, answered once the journal holds it.
struct rebuild_request {
  uint64_t from = 0;
  std::string by; ///< who asked, for the log
  caf::typed_response_promise<processor_status> promise;
};

struct processor_state {
  static inline const char* name = "processor";
  processor_options o;
  std::unique_ptr<storage::journal_reader> reader;
  std::unique_ptr<storage::processor_statement> statement;
  projections_actor projections;
  /// The journal's checkpoint, and the progress made past it in memory.
  uint64_t checkpoint = 0;
  uint64_t position = 0;
  uint64_t head = 0;
  /// A page is waiting for read models or for the journal.
  bool busy = false;
  bool step_scheduled = false;
  bool retry_armed = false;
  std::vector<std::string> waiting_on;
  /// Read model files, by projection name, as their projections announce.
  std::map<std::string, std::string> files;
  // Faults.
  bool faulted = false;
  uint64_t faulted_position = 0;
  std::string error;
  /// After a failing page: one source event per page up to here.
  uint64_t single_until = 0;
  // Rebuilds.
  uint64_t generation = 0; ///< the journal's, part of every derived id
  /// Bumped by each rebuild: the outcome of work started in an older epoch
  /// (a page waiting for read models, a commit in flight) is dropped.
  uint64_t epoch = 0;
  /// The rebuild in the journal's hands first, then those asked for since.
  std::deque<rebuild_request> rebuild_queue;
  // Figures.
  uint64_t batches = 0;
  uint64_t events_in = 0;
  uint64_t events_out = 0;
  uint64_t statement_ns = 0;
  uint64_t skipped = 0;
  uint64_t rebuilds = 0;
  uint64_t waits = 0;
  uint64_t wait_ns = 0;
  counters stats;
};

using self_ptr = processor_actor::stateful_pointer<processor_state>;

const std::string& name_of(self_ptr self) {
  return self->state.o.def.name;
}

/// Whether the processor reads `e`: an open channel of one of its
/// namespaces, of one of its types (any when none are listed). Private and
/// user-limited channels never feed it: derived events go to open channels,
/// and would show their content to clients the source channel refuses.
bool reads(const config::settings& s, const config::processor_def& def,
           const storage::recorded_event& e) {
  if (config::is_private_channel(e.stream))
    return false;
  auto ns = config::namespace_name(e.stream);
  if (std::find(def.namespaces.begin(), def.namespaces.end(), ns) == def.namespaces.end())
    return false;
  if (const auto* settings = s.namespace_of(e.stream);
      settings && config::is_user_limited(*settings, e.stream))
    return false;
  return def.types.empty()
         || std::find(def.types.begin(), def.types.end(), e.type) != def.types.end();
}

processor_status status_of(self_ptr self) {
  auto& st = self->state;
  processor_status s;
  s.name = name_of(self);
  s.position = st.position;
  s.checkpoint = st.checkpoint;
  s.head = std::max(st.head, st.position);
  s.lag = s.head - s.position;
  s.waiting_on = st.waiting_on;
  s.status = st.faulted               ? "faulted"
             : !st.waiting_on.empty() ? "waiting"
             : s.lag > 0              ? "catching_up"
                                      : "running";
  s.faulted_position = st.faulted_position;
  s.error = st.error;
  s.batches = st.batches;
  s.events_in = st.events_in;
  s.events_out = st.events_out;
  s.statement_ns = st.statement_ns;
  s.skipped = st.skipped;
  s.generation = st.generation;
  s.rebuilds = st.rebuilds;
  return s;
}

void schedule_step(self_ptr self) {
  auto& st = self->state;
  if (!st.step_scheduled) {
    st.step_scheduled = true;
    self->send(self, step_atom_v);
  }
}

/// Tries again after processors.retry_every (a temporary failure).
void retry_later(self_ptr self, std::string why) {
  auto& st = self->state;
  st.busy = false;
  if (st.error != why)
    spdlog::warn("processor {}: {}; retrying", name_of(self), why);
  st.error = std::move(why);
  if (!st.retry_armed) {
    st.retry_armed = true;
    self->delayed_send(self, st.o.settings->processors.retry_every, tick_atom_v);
  }
}

void fault(self_ptr self, uint64_t position, std::string why) {
  auto& st = self->state;
  st.busy = false;
  st.waiting_on.clear();
  st.faulted = true;
  st.faulted_position = position;
  st.error = std::move(why);
  spdlog::error("processor {} faulted at position {}: {}", name_of(self), position, st.error);
}

/// The next page after the in-memory position: the events it reads, up to
/// processors.batch_events journal events (one event it reads while
/// pinning down a fault).
page next_page(self_ptr self) {
  auto& st = self->state;
  page p;
  p.epoch = st.epoch;
  const auto limit = static_cast<size_t>(st.o.settings->processors.batch_events);
  auto events = st.reader->read_all(st.position + 1, limit);
  for (auto& e : events) {
    p.last = e.position;
    if (!reads(*st.o.settings, st.o.def, e))
      continue;
    if (p.events.empty())
      p.first = e.position;
    p.events.push_back(std::move(e));
    if (st.position < st.single_until)
      break;
  }
  if (p.last)
    st.head = std::max(st.head, p.last);
  return p;
}

/// The append of one derived row, or why it may not be appended.
std::string to_append(self_ptr self, const page& p, const storage::derived_row& row,
                      std::map<uint64_t, uint64_t>& ordinals, storage::append_request& out) {
  auto& st = self->state;
  const auto& s = *st.o.settings;
  if (auto why = storage::check_derived_row(s, name_of(self), row); !why.empty())
    return why;
  const storage::recorded_event* source = nullptr;
  if (row.source_position) {
    for (const auto& e : p.events)
      if (e.position == *row.source_position)
        source = &e;
    if (!source)
      return "source_position " + std::to_string(*row.source_position)
             + " is not an event of this batch";
  }
  const uint64_t at = source ? source->position : p.last;
  storage::new_event e;
  e.type = row.type.empty() ? s.namespace_of(row.channel)->default_type : row.type;
  e.id = row.id.empty()
           ? storage::derived_event_id(name_of(self), st.generation, at, ordinals[at]++)
           : row.id;
  e.meta = storage::derived_meta(name_of(self), source, st.generation);
  // As on every other append path: the payload checks of client data, and
  // the one data limit (websocket.max_data_bytes) on what subscribers get.
  std::string error;
  if (!protocol::json_to_msgpack(row.data, e.data, error))
    return "the data of a row for channel \"" + row.channel + "\" is not JSON: " + error;
  if (!protocol::data_within_limit(e.data, static_cast<size_t>(s.websocket.max_data_bytes)))
    return "the data of a row for channel \"" + row.channel
           + "\" is larger than websocket.max_data_bytes";
  out.stream = row.channel;
  out.events.push_back(std::move(e));
  return "";
}

void commit(self_ptr self, page p, storage::processor_commit c);

/// A failing page: pinned down to its event, or the processor faults.
void page_failed(self_ptr self, const page& p, const std::string& why) {
  auto& st = self->state;
  if (p.events.size() > 1) {
    st.single_until = p.last;
    st.busy = false;
    schedule_step(self);
    return;
  }
  fault(self, p.first ? p.first : p.last, why);
}

/// Runs the statement over a page whose read models are ready.
void run(self_ptr self, page p) {
  auto& st = self->state;
  st.waiting_on.clear();
  std::vector<storage::derived_row> rows;
  auto start = counters::clock::now();
  try {
    if (!st.statement)
      st.statement = std::make_unique<storage::processor_statement>(st.o.def);
    for (const auto& rm : st.o.def.read_models) {
      auto file = st.files.find(rm);
      if (file == st.files.end()) { // the projection has no file yet
        st.waiting_on = {rm};
        retry_later(self, "read model " + rm + " has no file yet");
        return;
      }
      if (st.statement->attached(rm) != file->second)
        st.statement->attach(rm, file->second);
    }
    rows = st.statement->run(p.events, static_cast<size_t>(st.o.settings->processors.max_outputs),
                             st.o.settings->processors.timeout);
  } catch (const storage::failure& f) {
    st.statement.reset(); // attach afresh next time
    if (storage::is_temporary(f.code()))
      return retry_later(self, f.what());
    return page_failed(self, p, f.what());
  }
  st.statement_ns += static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(counters::clock::now() - start).count());
  ++st.batches;
  st.events_in += p.events.size();
  storage::processor_commit c{name_of(self), st.checkpoint, p.last, {}, st.generation};
  std::map<uint64_t, uint64_t> ordinals;
  for (const auto& row : rows) {
    storage::append_request a;
    a.expected = storage::expected_version::any();
    if (auto why = to_append(self, p, row, ordinals, a); !why.empty())
      return page_failed(self, p, why);
    // Consecutive rows for one channel make one append.
    if (!c.appends.empty() && c.appends.back().stream == a.stream)
      c.appends.back().events.push_back(std::move(a.events.front()));
    else
      c.appends.push_back(std::move(a));
  }
  if (c.appends.empty()) {
    // Nothing derived: the checkpoint moves in memory; the next commit
    // carries it.
    st.position = p.last;
    st.busy = false;
    schedule_step(self);
    return;
  }
  commit(self, std::move(p), std::move(c));
}

void commit(self_ptr self, page p, storage::processor_commit c) {
  auto& st = self->state;
  const size_t derived = [&] {
    size_t n = 0;
    for (const auto& a : c.appends)
      n += a.events.size();
    return n;
  }();
  self
    ->request(caf::actor_cast<journal_actor>(st.o.journal), caf::infinite, derive_atom_v,
              std::move(c))
    .then(
      [self, p, derived](storage::processor_commit_result& r) {
        auto& st = self->state;
        if (p.epoch != st.epoch) { // a rebuild came after it: its outcome is the rebuild's
          if (r.status == storage::processor_commit_status::ok)
            st.events_out += derived;
          return;
        }
        if (r.status == storage::processor_commit_status::ok) {
          st.checkpoint = st.position = p.last;
          st.events_out += derived;
          st.busy = false;
          st.error.clear();
          schedule_step(self);
        } else if (r.status == storage::processor_commit_status::conflict) {
          fault(self, p.first,
                "the journal holds checkpoint " + std::to_string(r.actual) + ", not "
                  + std::to_string(st.checkpoint)
                  + ": is another herald running this processor? Restart it");
        } else {
          page_failed(self, p, r.message);
        }
      },
      [self, epoch = p.epoch](const caf::error& e) {
        if (epoch != self->state.epoch)
          return;
        auto code = code_of(e);
        if (is_temporary(code))
          return retry_later(self, "the journal refused the derived events: " + message_of(e));
        fault(self, self->state.position + 1, "the journal failed: " + message_of(e));
      });
}

/// Waits for the read models of wait_for to apply the page, then runs it.
void wait_and_run(self_ptr self, page p) {
  auto& st = self->state;
  if (st.o.def.wait_for.empty() || !st.projections)
    return run(self, std::move(p));
  st.waiting_on = st.o.def.wait_for;
  auto pending = std::make_shared<size_t>(st.o.def.wait_for.size());
  auto failed = std::make_shared<std::string>();
  auto shared = std::make_shared<page>(std::move(p));
  auto started = counters::clock::now();
  ++st.waits;
  auto done = [self, pending, failed, shared, started] {
    if (--*pending > 0)
      return;
    auto& st = self->state;
    if (shared->epoch != st.epoch)
      return; // a rebuild came meanwhile

    st.wait_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(counters::clock::now() - started)
        .count());
    if (!failed->empty())
      return retry_later(self, *failed);
    run(self, std::move(*shared));
  };
  for (const auto& rm : st.o.def.wait_for)
    self
      ->request(st.projections, caf::infinite, applied_atom_v, rm,
                storage::journal_position{shared->last})
      .then(
        [self, rm, done, epoch = shared->epoch](storage::journal_position) {
          auto& w = self->state.waiting_on;
          if (epoch == self->state.epoch)
            w.erase(std::remove(w.begin(), w.end(), rm), w.end());
          done();
        },
        [rm, failed, done](const caf::error& e) {
          *failed = "read model " + rm + " is not available: " + message_of(e);
          done();
        });
}

void step(self_ptr self) {
  auto& st = self->state;
  st.step_scheduled = false;
  if (st.busy || st.faulted || st.position >= st.head)
    return;
  page p;
  try {
    p = next_page(self);
  } catch (const storage::failure& f) {
    return retry_later(self, std::string("cannot read the journal: ") + f.what());
  }
  if (p.last == 0)
    return;
  if (p.events.empty()) {
    st.position = p.last;
    schedule_step(self);
    return;
  }
  st.busy = true;
  wait_and_run(self, std::move(p));
}

/// Moves the checkpoint past the faulted event, recorded in the journal.
void skip(self_ptr self) {
  auto& st = self->state;
  const uint64_t past = st.faulted_position;
  storage::processor_commit c{name_of(self), st.checkpoint, past, {}, st.generation};
  st.busy = true;
  self
    ->request(caf::actor_cast<journal_actor>(st.o.journal), caf::infinite, derive_atom_v,
              std::move(c))
    .then(
      [self, past, epoch = st.epoch](storage::processor_commit_result& r) {
        auto& st = self->state;
        if (epoch != st.epoch)
          return; // a rebuild un-faulted the processor meanwhile
        st.busy = false;
        if (r.status != storage::processor_commit_status::ok) {
          st.error = "skip failed: " + r.message;
          return;
        }
        spdlog::warn("processor {}: skipped the event at position {}", name_of(self), past);
        st.checkpoint = st.position = past;
        ++st.skipped;
        st.faulted = false;
        st.faulted_position = 0;
        st.error.clear();
        schedule_step(self);
      },
      [self, epoch = st.epoch](const caf::error& e) {
        if (epoch != self->state.epoch)
          return;
        self->state.busy = false;
        self->state.error = "skip failed: " + message_of(e);
      });
}

/// Why the processor cannot rebuild from `from`, or "": the first source
/// position to derive again, 1 (the start of the log) to head + 1 (only
/// what comes next).
std::string bad_rebuild_from(self_ptr self, uint64_t from) {
  const uint64_t head = self->state.reader->head();
  if (from >= 1 && from <= head + 1)
    return "";
  return "from must be a journal position from 1 to " + std::to_string(head + 1)
         + " (the head + 1), not " + std::to_string(from);
}

void start_rebuild(self_ptr self);

/// Answers the rebuild at the front of the queue and starts the next one,
/// or goes on deriving.
void end_rebuild(self_ptr self, caf::error failure) {
  auto& st = self->state;
  auto request = std::move(st.rebuild_queue.front());
  st.rebuild_queue.pop_front();
  if (failure)
    request.promise.deliver(std::move(failure));
  else
    request.promise.deliver(status_of(self));
  if (!st.rebuild_queue.empty())
    return start_rebuild(self);
  st.busy = false;
  schedule_step(self);
}

/// The journal holds the new generation: derive again after from - 1.
void rebuilt(self_ptr self, uint64_t generation) {
  auto& st = self->state;
  const auto& request = st.rebuild_queue.front();
  spdlog::warn("processor {}: rebuild from position {} asked by {}: generation {} derives "
               "again from there{}",
               name_of(self), request.from, request.by, generation,
               st.faulted ? " (no longer faulted)" : "");
  st.generation = generation;
  st.checkpoint = st.position = request.from - 1;
  st.head = std::max(st.head, st.position);
  ++st.rebuilds;
  st.faulted = false;
  st.faulted_position = 0;
  st.error.clear();
  st.single_until = 0;
  end_rebuild(self, {});
}

/// The journal refused or failed the rebuild: nothing changed there. What
/// the processor had under way when it started was dropped, so it goes on
/// from what the journal holds.
void rebuild_failed(self_ptr self, errc code, const std::string& why) {
  auto& st = self->state;
  spdlog::error("processor {}: rebuild from position {} failed: {}", name_of(self),
                st.rebuild_queue.front().from, why);
  try {
    st.checkpoint = st.reader->processor_checkpoint(name_of(self));
    st.generation = st.reader->processor_generation(name_of(self));
    if (!st.faulted)
      st.position = st.checkpoint;
  } catch (const storage::failure& f) {
    fault(self, st.position + 1, std::string("cannot read the checkpoint: ") + f.what());
  }
  end_rebuild(self, caf::make_error(code, "the rebuild failed: " + why));
}

/// Commits the rebuild at the front of the queue: the next generation, and
/// the checkpoint before its `from`, in one journal transaction.
void start_rebuild(self_ptr self) {
  auto& st = self->state;
  ++st.epoch; // what is under way belongs to the old generation
  st.busy = true;
  st.waiting_on.clear();
  const uint64_t from = st.rebuild_queue.front().from;
  storage::processor_commit c{name_of(self), st.checkpoint, from - 1, {}, st.generation, true};
  self
    ->request(caf::actor_cast<journal_actor>(st.o.journal), caf::infinite, derive_atom_v,
              std::move(c))
    .then(
      [self](storage::processor_commit_result& r) {
        if (r.status == storage::processor_commit_status::ok)
          return rebuilt(self, r.generation);
        rebuild_failed(self, errc::internal,
                       r.status == storage::processor_commit_status::conflict
                         ? r.message + ": is another herald running this processor?"
                         : r.message);
      },
      [self](const caf::error& e) {
        rebuild_failed(self, is_temporary(code_of(e)) ? errc::unavailable : errc::internal,
                       "the journal failed: " + message_of(e));
      });
}

/// Takes a rebuild on: it is answered once the journal holds it.
caf::result<processor_status> rebuild(self_ptr self, uint64_t from, std::string by) {
  auto& st = self->state;
  try {
    if (auto why = bad_rebuild_from(self, from); !why.empty())
      return caf::make_error(errc::bad_request, why);
  } catch (const storage::failure& f) {
    return from_failure(f);
  }
  auto promise = self->make_response_promise<processor_status>();
  st.rebuild_queue.push_back({from, std::move(by), promise});
  if (st.rebuild_queue.size() == 1)
    start_rebuild(self);
  return promise;
}

actor_stats stats_of(self_ptr self) {
  auto& st = self->state;
  st.stats.sample(self, true);
  auto status = status_of(self);
  auto s = st.stats.stats("processor " + name_of(self), "processor");
  s.figures = {
    {"position", static_cast<int64_t>(status.position)},
    {"checkpoint", static_cast<int64_t>(status.checkpoint)},
    {"head", static_cast<int64_t>(status.head)},
    {"lag", static_cast<int64_t>(status.lag)},
    {"batches", static_cast<int64_t>(st.batches)},
    {"events_in", static_cast<int64_t>(st.events_in)},
    {"events_out", static_cast<int64_t>(st.events_out)},
    {"statement_ns", static_cast<int64_t>(st.statement_ns)},
    {"waits", static_cast<int64_t>(st.waits)},
    {"wait_ns", static_cast<int64_t>(st.wait_ns)},
    {"waiting", status.waiting_on.empty() ? 0 : 1},
    {"faulted", st.faulted ? 1 : 0},
    {"skipped", static_cast<int64_t>(st.skipped)},
    {"rebuilds", static_cast<int64_t>(st.rebuilds)},
    {"generation", static_cast<int64_t>(st.generation)},
  };
  return s;
}

processor_actor::behavior_type processor_impl(self_ptr self, processor_options o) {
  auto& st = self->state;
  st.o = std::move(o);
  st.reader = std::make_unique<storage::journal_reader>(st.o.journal_path);
  st.head = st.reader->head();
  st.checkpoint = st.position = st.reader->processor_checkpoint(st.o.def.name);
  st.generation = st.reader->processor_generation(st.o.def.name);
  spdlog::info("processor {}: starting at position {}, generation {} (journal head {})",
               st.o.def.name, st.position, st.generation, st.head);
  return {
    [self](committed_atom, const event_batch& batch) {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self);
      if (batch.empty())
        return;
      st.head = std::max(st.head, batch.back().position);
      schedule_step(self);
    },
    [self](file_atom, const std::string& projection, const std::string& path) {
      auto& st = self->state;
      st.files[projection] = path;
      // A page may be waiting for this file (a first build): go on now.
      if (!st.busy && !st.faulted)
        schedule_step(self);
    },
    [](file_status_atom, const std::string&, const std::string&) {
      // A faulted read model stops moving: waiting on it shows that.
    },
    [self](wait_for_atom, const caf::actor& manager) {
      self->state.projections = caf::actor_cast<projections_actor>(manager);
      schedule_step(self);
    },
    [self](step_atom) {
      auto scope = self->state.stats.measure();
      step(self);
    },
    [self](tick_atom) {
      auto& st = self->state;
      st.retry_armed = false;
      if (!st.faulted && !st.busy)
        schedule_step(self);
    },
    [self](status_atom) -> processor_status { return status_of(self); },
    [self](retry_atom) -> processor_status {
      auto& st = self->state;
      if (st.faulted) {
        st.faulted = false;
        st.error.clear();
        st.faulted_position = 0;
        schedule_step(self);
      }
      return status_of(self);
    },
    [self](skip_atom) -> processor_status {
      auto& st = self->state;
      if (st.faulted && !st.busy && st.faulted_position > st.checkpoint)
        skip(self);
      return status_of(self);
    },
    [self](rebuild_atom, uint64_t from, const std::string& by) -> caf::result<processor_status> {
      return rebuild(self, from, by);
    },
    [self](stats_atom) -> actor_stats { return stats_of(self); },
  };
}

} // namespace

processor_actor spawn_processor(caf::actor_system& sys, processor_options options) {
  return sys.spawn<caf::detached>(processor_impl, std::move(options));
}

} // namespace herald::actors
