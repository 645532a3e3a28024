#include "actors/channel_registry.hpp"

#include "actors/counters.hpp"
#include "actors/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <unordered_map>

namespace herald::actors {

namespace {

using namespace std::chrono_literals;

struct active_channel {
  channel_actor handle;
  uint64_t delegated = 0; ///< subscribes handed to it
};

struct registry_state {
  static inline const char* name = "channel-registry";
  config::settings settings;
  reader_actor readers;
  std::string epoch;
  uint64_t last_position = 0;
  std::unordered_map<std::string, active_channel> channels;
  counters stats;
  uint64_t spawned = 0;
  uint64_t stopped = 0;
  uint64_t gaps_filled = 0;
  /// Every channel adds its deliveries here: a sum over live channels would
  /// drop when idle ones stop.
  std::shared_ptr<std::atomic<uint64_t>> deliveries = std::make_shared<std::atomic<uint64_t>>(0);
};

using self_ptr = channel_registry_actor::stateful_pointer<registry_state>;

active_channel& channel_for(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto it = st.channels.find(name);
  if (it != st.channels.end())
    return it->second;
  channel_options o;
  o.epoch = st.epoch;
  o.ring_size = static_cast<size_t>(st.settings.channels.ring_size);
  o.idle_stop = st.settings.channels.idle_stop;
  o.join_leave_max_subscribers =
    static_cast<size_t>(st.settings.channels.join_leave_max_subscribers);
  o.request_timeout = st.settings.server.actor_request_timeout;
  o.deliveries_total = st.deliveries;
  // Half the outbound queue a session may hold, so a paced piece never
  // trips the slow-consumer limit on its own.
  o.catch_up_bytes = std::min<size_t>(
    o.catch_up_bytes, static_cast<size_t>(st.settings.websocket.max_queued_bytes) / 2);
  if (const auto* ns = st.settings.namespace_of(name)) {
    o.join_leave = ns->join_leave;
    o.recovery = ns->recovery;
  }
  auto handle = spawn_channel(self->home_system(), name, std::move(o), st.readers,
                              caf::actor_cast<channel_owner>(self));
  self->monitor(handle);
  ++st.spawned;
  return st.channels.emplace(name, active_channel{std::move(handle), 0}).first->second;
}

/// Stops a channel that has no subscriber and none on its way.
void stop_channel(self_ptr self, std::unordered_map<std::string, active_channel>::iterator it) {
  auto& st = self->state;
  self->send(it->second.handle, stop_atom_v);
  self->demonitor(it->second.handle.address());
  st.channels.erase(it);
  ++st.stopped;
}

/// A subscriber left `name`: past channels.max_idle live channels, asks the
/// channel whether anyone is left (its stats: cheap, whatever its size) and
/// stops it if not. The session told the channel first, so the channel sees
/// the unsubscribe before this question; a subscribe delegated meanwhile
/// keeps the channel.
void on_left(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto it = st.channels.find(name);
  if (it == st.channels.end()
      || st.channels.size() <= static_cast<size_t>(st.settings.channels.max_idle))
    return;
  auto handle = it->second.handle;
  auto delegated = it->second.delegated;
  self->request(handle, st.settings.server.actor_request_timeout, stats_atom_v)
    .then(
      [self, name, handle, delegated](const actor_stats& s) {
        auto subscribers = s.figures.find("subscribers");
        auto it = self->state.channels.find(name);
        if (subscribers != s.figures.end() && subscribers->second == 0
            && it != self->state.channels.end() && it->second.handle == handle
            && it->second.delegated == delegated)
          stop_channel(self, it);
      },
      [](const caf::error&) {}); // gone already: its down message cleans up
}

/// Hands the events of each active channel to it, one message per channel.
void dispatch(self_ptr self, const event_batch& batch) {
  auto& st = self->state;
  std::unordered_map<std::string, event_batch> parts;
  for (const auto& e : batch) {
    if (st.channels.count(e.stream))
      parts[e.stream].push_back(e);
  }
  for (auto& [name, events] : parts)
    self->send(st.channels[name].handle, committed_atom_v, std::move(events));
  if (!batch.empty())
    st.last_position = batch.back().position;
}

channel_registry_actor::behavior_type registry_impl(self_ptr self, config::settings settings,
                                                    reader_actor readers, std::string epoch,
                                                    storage::journal_position head) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.readers = std::move(readers);
  st.epoch = std::move(epoch);
  st.last_position = head.value;
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& chans = self->state.channels;
    for (auto it = chans.begin(); it != chans.end(); ++it)
      if (it->second.handle.address() == dm.source) {
        chans.erase(it);
        return;
      }
  });
  return {
    [self](committed_atom, event_batch& batch) {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self);
      if (batch.empty() || batch.front().position <= st.last_position + 1) {
        dispatch(self, batch);
        return;
      }
      // Missed batches (a listener that joined late, or a lost link): read
      // them first; `await` keeps later batches waiting behind this one.
      ++st.gaps_filled;
      auto missing = batch.front().position - st.last_position - 1;
      self
        ->request(st.readers, st.settings.server.actor_request_timeout, read_all_atom_v,
                  storage::journal_position{st.last_position + 1}, missing)
        .await(
          [self, batch](event_batch& earlier) {
            dispatch(self, earlier);
            dispatch(self, batch);
          },
          [self, batch](const caf::error&) { dispatch(self, batch); });
    },
    [self](subscribe_atom a, subscribe_request& req) {
      auto scope = self->state.stats.measure();
      auto& ch = channel_for(self, req.channel);
      ++ch.delegated;
      return self->delegate(ch.handle, a, std::move(req));
    },
    [self](presence_atom, const std::string& channel) -> caf::result<presence_reply> {
      auto scope = self->state.stats.measure();
      auto it = self->state.channels.find(channel);
      if (it == self->state.channels.end())
        return presence_reply{};
      return self->delegate(it->second.handle, presence_atom_v);
    },
    [self](idle_atom, const std::string& name, uint64_t seen) {
      auto& st = self->state;
      auto scope = st.stats.measure();
      auto it = st.channels.find(name);
      if (it == st.channels.end() || it->second.delegated != seen)
        return; // a subscription is on its way: the channel stays
      stop_channel(self, it);
    },
    [self](left_atom, const std::string& name) {
      auto scope = self->state.stats.measure();
      on_left(self, name);
    },
    [self](stats_atom) -> caf::result<actor_stats> {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self, true);
      auto s = st.stats.stats("channel-registry", "registry");
      s.figures = {
        {"channels", static_cast<int64_t>(st.channels.size())},
        {"channels_spawned", static_cast<int64_t>(st.spawned)},
        {"channels_stopped", static_cast<int64_t>(st.stopped)},
        {"last_position", static_cast<int64_t>(st.last_position)},
        {"gaps_filled", static_cast<int64_t>(st.gaps_filled)},
        {"subscribers", 0},
        {"deliveries", static_cast<int64_t>(st.deliveries->load())},
        {"published", 0},
        {"journal_catch_ups", 0},
      };
      if (st.channels.empty())
        return s;
      // Sum the channels' own figures.
      auto promise = self->make_response_promise<actor_stats>();
      auto pending = std::make_shared<size_t>(st.channels.size());
      auto total = std::make_shared<actor_stats>(std::move(s));
      for (auto& [name, ch] : st.channels)
        self->request(ch.handle, 5s, stats_atom_v)
          .then(
            [promise, pending, total](const actor_stats& cs) mutable {
              for (auto key : {"subscribers", "published", "journal_catch_ups"})
                total->figures[key] += cs.figures.count(key) ? cs.figures.at(key) : 0;
              if (--*pending == 0)
                promise.deliver(*total);
            },
            [promise, pending, total](const caf::error&) mutable {
              if (--*pending == 0)
                promise.deliver(*total);
            });
      return promise;
    },
  };
}

} // namespace

std::string epoch_of(const std::string& journal_id) {
  return journal_id.substr(0, 8);
}

channel_registry_actor spawn_channel_registry(caf::actor_system& sys, const config::settings& s,
                                              reader_actor readers, std::string journal_id,
                                              storage::journal_position head) {
  return sys.spawn(registry_impl, s, std::move(readers), epoch_of(journal_id), head);
}

} // namespace herald::actors
