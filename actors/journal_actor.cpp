#include "actors/journal_actor.hpp"

#include "actors/counters.hpp"
#include "actors/errors.hpp"
#include "actors/shared_send.hpp"
#include "storage/journal.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace herald::actors {

namespace {

/// What the writer thread made of one batch.
struct commit_outcome {
  std::vector<storage::append_result> results;
  /// The answer to a processor commit, when the batch was one.
  std::optional<storage::processor_commit_result> derived;
  event_batch committed;
  std::optional<storage::failure> failure;
  uint64_t commit_ns = 0;
};

/// The thread that commits batches, so that the actor keeps taking appends
/// (the next batch) while a transaction is written and fsynced: with N
/// appenders waiting for their acks, a synchronous commit leaves the actor
/// idle for the fsync and then busy with messages while the disk waits.
/// One batch at a time, so commits stay in order; it tells the actor a batch
/// is done with a flush_atom.
class batch_writer {
public:
  batch_writer(std::shared_ptr<storage::journal> journal, caf::actor_addr owner)
    : journal_(std::move(journal)), owner_(std::move(owner)), thread_([this] { run(); }) {}

  ~batch_writer() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join(); // an in-flight transaction completes before the journal closes
  }

  batch_writer(const batch_writer&) = delete;
  batch_writer& operator=(const batch_writer&) = delete;

  /// Starts a batch of appends, or with `commit` a processor commit (its
  /// own transaction).
  void start(std::vector<storage::append_request> batch,
             std::optional<storage::processor_commit> commit = std::nullopt) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      job_ = std::move(batch);
      commit_job_ = std::move(commit);
      has_job_ = true;
      done_ = false;
    }
    wake_.notify_one();
  }

  /// The outcome of the batch started last, once it is written.
  std::optional<commit_outcome> take() {
    std::lock_guard<std::mutex> guard(mutex_);
    if (!done_)
      return std::nullopt;
    done_ = false;
    return std::move(outcome_);
  }

private:
  void run() {
    for (;;) {
      std::vector<storage::append_request> batch;
      std::optional<storage::processor_commit> derived;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return has_job_ || stop_; });
        if (stop_)
          return;
        batch = std::move(job_);
        derived = std::move(commit_job_);
        commit_job_.reset();
        has_job_ = false;
      }
      auto outcome = commit(batch, derived);
      {
        std::lock_guard<std::mutex> guard(mutex_);
        outcome_ = std::move(outcome);
        done_ = true;
      }
      if (auto ptr = caf::actor_cast<caf::strong_actor_ptr>(owner_))
        ptr->enqueue(nullptr, caf::make_message_id(), caf::make_message(flush_atom_v), nullptr);
    }
  }

  commit_outcome commit(std::vector<storage::append_request>& batch,
                        std::optional<storage::processor_commit>& derived) {
    commit_outcome out;
    auto start = counters::clock::now();
    try {
      if (derived)
        out.derived = journal_->commit_processor(*derived, &out.committed);
      else
        out.results = journal_->append(batch, &out.committed);
    } catch (const storage::failure& f) {
      out.failure = f;
    }
    out.commit_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(counters::clock::now() - start).count());
    return out;
  }

  std::shared_ptr<storage::journal> journal_;
  caf::actor_addr owner_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<storage::append_request> job_;
  std::optional<storage::processor_commit> commit_job_;
  bool has_job_ = false;
  bool stop_ = false;
  bool done_ = false;
  commit_outcome outcome_;
  std::thread thread_; // last: starts after the members it uses exist
};

struct journal_state {
  static inline const char* name = "journal";
  std::shared_ptr<storage::journal> journal;
  config::journal_settings settings;
  std::unique_ptr<batch_writer> writer;
  std::vector<storage::append_request> pending;
  std::vector<caf::typed_response_promise<storage::append_result>> promises;
  size_t pending_bytes = 0;
  bool flush_scheduled = false;
  /// After a commit, the next batch waits (journal.commit_wait_us) until
  /// this many appends are pending: those pending at the commit plus the
  /// ones it acknowledged, whose senders tend to append again at once.
  /// Closed-loop appenders then fill one batch instead of splitting into
  /// two halves that alternate with the fsync.
  size_t awaited = 0;
  bool holding = false;
  counters::clock::time_point hold_until; ///< a stale hold's timer ends nothing early
  /// The batch the writer works on; its promises wait for its outcome.
  bool in_flight = false;
  std::vector<caf::typed_response_promise<storage::append_result>> in_flight_promises;
  /// Processor commits waiting for the writer; each is a transaction of its
  /// own, taken turn about with batches of appends so neither starves.
  std::deque<std::pair<storage::processor_commit,
                       caf::typed_response_promise<storage::processor_commit_result>>>
    commits;
  std::optional<caf::typed_response_promise<storage::processor_commit_result>> in_flight_commit;
  bool last_was_commit = false;
  uint64_t processor_commits = 0;
  /// The last committed position, kept here because the journal is busy on
  /// the writer thread.
  uint64_t head = 0;
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

bool batch_full(const journal_state& st) {
  return st.pending.size() >= static_cast<size_t>(st.settings.max_batch_events)
         || st.pending_bytes >= static_cast<size_t>(st.settings.max_batch_bytes);
}

/// Whether the pending appends should go to the free writer now rather
/// than wait for the appenders the last commit acknowledged.
bool batch_ready(const journal_state& st) {
  return st.settings.commit_wait_us == 0 || batch_full(st) || st.pending.size() >= st.awaited;
}

/// The writer is free and appends are pending: start now (behind the
/// appends already in the mailbox), or hold until enough arrived or the
/// wait is over.
void schedule_batch(self_ptr self) {
  auto& st = self->state;
  if (batch_ready(st)) {
    if (!st.flush_scheduled) {
      st.flush_scheduled = true;
      self->send(self, flush_atom_v);
    }
    return;
  }
  if (st.holding)
    return;
  st.holding = true;
  auto wait = std::chrono::microseconds(st.settings.commit_wait_us);
  st.hold_until = counters::clock::now() + wait;
  self->delayed_send(self, wait, flush_atom_v);
}

/// Hands the next processor commit to the writer.
void start_commit(self_ptr self) {
  auto& st = self->state;
  auto [commit, promise] = std::move(st.commits.front());
  st.commits.pop_front();
  st.in_flight = true;
  st.in_flight_commit = promise;
  st.last_was_commit = true;
  st.writer->start({}, std::move(commit));
}

/// Hands the pending appends (up to the batch bounds), or a processor
/// commit, to the writer.
void start_batch(self_ptr self) {
  auto& st = self->state;
  if (st.in_flight)
    return;
  if (!st.commits.empty() && (st.pending.empty() || !st.last_was_commit)) {
    start_commit(self);
    return;
  }
  if (st.pending.empty())
    return;
  st.last_was_commit = false;
  st.holding = false;
  size_t take = 0;
  size_t bytes = 0;
  while (take < st.pending.size() && take < static_cast<size_t>(st.settings.max_batch_events)
         && bytes < static_cast<size_t>(st.settings.max_batch_bytes))
    bytes += payload_bytes(st.pending[take++]);
  std::vector<storage::append_request> batch;
  if (take == st.pending.size()) {
    batch = std::move(st.pending);
    st.in_flight_promises = std::move(st.promises);
    st.pending.clear();
    st.promises.clear();
    st.pending_bytes = 0;
  } else {
    auto cut = static_cast<std::ptrdiff_t>(take);
    batch.assign(std::make_move_iterator(st.pending.begin()),
                 std::make_move_iterator(st.pending.begin() + cut));
    st.in_flight_promises.assign(st.promises.begin(), st.promises.begin() + cut);
    st.pending.erase(st.pending.begin(), st.pending.begin() + cut);
    st.promises.erase(st.promises.begin(), st.promises.begin() + cut);
    st.pending_bytes -= std::min(st.pending_bytes, bytes);
  }
  st.in_flight = true;
  st.writer->start(std::move(batch));
}

void fail_batch(self_ptr self, const storage::failure& f,
                std::vector<caf::typed_response_promise<storage::append_result>>& promises) {
  auto& st = self->state;
  ++st.failed_batches;
  if (!st.failing)
    spdlog::error("journal: appends fail{}: {}",
                  storage::is_temporary(f.code()) ? " until the disk accepts writes again" : "",
                  f.what());
  st.failing = true;
  auto err = from_failure(f);
  for (auto& p : promises)
    p.deliver(err);
}

/// Passes committed events on to the listeners.
void publish(self_ptr self, event_batch& committed);

/// Answers the processor commit the writer finished; its events go to the
/// listeners like any others.
void finish_commit(self_ptr self, commit_outcome& out,
                   caf::typed_response_promise<storage::processor_commit_result>& promise) {
  auto& st = self->state;
  st.commit_ns += out.commit_ns;
  if (out.failure) {
    std::vector<caf::typed_response_promise<storage::append_result>> none;
    fail_batch(self, *out.failure, none);
    promise.deliver(from_failure(*out.failure));
    return;
  }
  ++st.processor_commits;
  promise.deliver(std::move(*out.derived));
  st.events += out.committed.size();
  publish(self, out.committed);
}

/// Acks the batch the writer finished and passes it on to the listeners.
void finish_batch(self_ptr self, commit_outcome& out,
                  std::vector<caf::typed_response_promise<storage::append_result>>& promises) {
  auto& st = self->state;
  st.commit_ns += out.commit_ns;
  if (out.failure) {
    fail_batch(self, *out.failure, promises);
    return;
  }
  if (st.failing) {
    spdlog::info("journal: appends work again ({} batches failed so far)", st.failed_batches);
    st.failing = false;
  }
  for (size_t i = 0; i < promises.size(); ++i)
    promises[i].deliver(std::move(out.results[i]));
  auto& committed = out.committed;
  ++st.batches;
  st.appends += promises.size();
  st.events += committed.size();
  st.last_batch = committed.size();
  st.largest_batch = std::max<uint64_t>(st.largest_batch, committed.size());
  publish(self, committed);
}

void publish(self_ptr self, event_batch& committed) {
  auto& st = self->state;
  if (committed.empty())
    return;
  st.head = committed.back().position;
  if (st.listeners.empty())
    return;
  // One message, shared by every listener.
  auto msg = caf::make_message(committed_atom_v, std::move(committed));
  for (auto& l : st.listeners)
    send_shared(self, l, msg);
}

journal_actor::behavior_type journal_impl(self_ptr self, std::shared_ptr<storage::journal> j,
                                          config::journal_settings settings) {
  self->state.head = j->head();
  self->state.writer = std::make_unique<batch_writer>(j, self->address());
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
      // Appends waiting for the writer count as queued too.
      if (st.stats.mailbox() + st.pending.size() > limit)
        st.stats.sample(self, true);
      if (st.stats.mailbox() + st.pending.size() > limit) {
        ++st.rejected;
        return caf::make_error(errc::overloaded, std::string("the journal queue is full"));
      }
      st.pending_bytes += payload_bytes(req);
      st.pending.push_back(std::move(req));
      auto promise = self->make_response_promise<storage::append_result>();
      st.promises.push_back(promise);
      if (st.in_flight) {
        // This append joins the next batch, started when the writer is done.
      } else if (batch_full(st)) {
        start_batch(self);
      } else {
        schedule_batch(self);
      }
      return promise;
    },
    // Sent by the actor to itself behind new appends or when a hold is
    // over, and by the writer when a batch is written.
    [self](flush_atom) {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.flush_scheduled = false;
      if (st.in_flight) {
        auto out = st.writer->take();
        if (!out)
          return;
        auto promises = std::move(st.in_flight_promises);
        st.in_flight_promises.clear();
        auto commit = std::move(st.in_flight_commit);
        st.in_flight_commit.reset();
        st.in_flight = false;
        // A hold's timer that is still to come is stale now.
        st.holding = false;
        if (!commit)
          st.awaited = std::min(st.pending.size() + (out->failure ? 0 : promises.size()),
                                static_cast<size_t>(st.settings.max_batch_events));
        // Work that is ready goes to the writer before this one's acks go
        // out, so the writer does not wait for them.
        if (batch_ready(st) || !st.commits.empty())
          start_batch(self);
        if (commit)
          finish_commit(self, *out, *commit);
        else
          finish_batch(self, *out, promises);
        if (!st.in_flight && !st.pending.empty())
          schedule_batch(self);
        return;
      }
      if (st.holding && !batch_ready(st) && st.commits.empty()
          && counters::clock::now() < st.hold_until)
        return; // the timer of an earlier hold
      start_batch(self);
    },
    [self](derive_atom,
           storage::processor_commit& c) -> caf::result<storage::processor_commit_result> {
      auto& st = self->state;
      auto scope = st.stats.measure();
      auto promise = self->make_response_promise<storage::processor_commit_result>();
      st.commits.emplace_back(std::move(c), promise);
      if (!st.in_flight && !st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, flush_atom_v);
      }
      return promise;
    },
    [self](listen_atom, batch_listener& l) {
      auto scope = self->state.stats.measure();
      self->monitor(l);
      self->state.listeners.push_back(std::move(l));
    },
    [self](head_atom) -> storage::journal_position {
      auto scope = self->state.stats.measure();
      return storage::journal_position{self->state.head};
    },
    [self](stats_atom) -> actor_stats {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self, true);
      auto s = st.stats.stats("journal", "journal");
      s.figures = {
        {"head", static_cast<int64_t>(st.head)},
        {"batches", static_cast<int64_t>(st.batches)},
        {"appends", static_cast<int64_t>(st.appends)},
        {"events", static_cast<int64_t>(st.events)},
        {"last_batch_events", static_cast<int64_t>(st.last_batch)},
        {"largest_batch_events", static_cast<int64_t>(st.largest_batch)},
        {"commit_ns", static_cast<int64_t>(st.commit_ns)},
        {"rejected_overloaded", static_cast<int64_t>(st.rejected)},
        {"failed_batches", static_cast<int64_t>(st.failed_batches)},
        {"listeners", static_cast<int64_t>(st.listeners.size())},
        {"processor_commits", static_cast<int64_t>(st.processor_commits)},
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
