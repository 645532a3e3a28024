#include "actors/channel_actor.hpp"

#include "actors/counters.hpp"
#include "actors/errors.hpp"
#include "actors/shared_send.hpp"
#include "protocol/push_frames.hpp"
#include "storage/msgpack_json.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <deque>
#include <limits>
#include <set>
#include <unordered_map>

namespace herald::actors {

using protocol::publication_frame;

namespace {

struct ring_entry {
  uint64_t offset;
  frame_ptr frame;
};

/// Where a subscriber stands: live (gets every batch as it comes), reading
/// (older publications are being read from the journal for it), or waiting
/// (it has seen offsets this channel has not heard of yet: the journal
/// committed them and they are on their way here).
enum class phase : uint8_t { live, reading, waiting };

struct subscriber {
  caf::actor handle;
  client_info info;
  phase at = phase::live;
  uint64_t next = 0;  ///< the next offset it needs, unless live
  bool paced = false; ///< catch-up waits for its answers (subscribe_request)
  sink_ptr sink;      ///< its direct line, if it has one (subscribe_request)
};

struct channel_state {
  std::string name;
  size_t pub_prefix = 0; ///< length of {"push":{"channel":C,"pub":
  channel_options options;
  reader_actor readers;
  channel_owner registry;
  uint64_t top = 0;
  std::deque<ring_entry> ring;
  std::unordered_map<caf::actor_addr, subscriber> subscribers;
  size_t live = 0;
  uint64_t subscribes_seen = 0;
  /// Subscribers waiting for offsets beyond the top.
  size_t waiting = 0;
  uint64_t idle_generation = 0;
  counters stats;
  uint64_t published = 0;
  uint64_t deliveries = 0;
  uint64_t catch_ups = 0;
  uint64_t resyncs = 0;
  /// Join/leave pushes gathered since the last flush_atom: every subscriber
  /// gets them as one delivery, so a burst of subscribes costs one message
  /// per subscriber rather than one per subscriber per join.
  std::vector<frame_ptr> join_leave;
};

using self_ptr = channel_actor::stateful_pointer<channel_state>;

/// Counts `n` publications handed to subscribers, here and node-wide.
void count_deliveries(channel_state& st, uint64_t n) {
  st.deliveries += n;
  if (st.options.deliveries_total)
    *st.options.deliveries_total += n;
}

void send_delivery(self_ptr self, const subscriber& to, uint64_t first_offset,
                   std::vector<frame_ptr> frames) {
  count_deliveries(self->state, frames.size());
  if (to.sink)
    to.sink->deliver(frames);
  else
    send_shared(self, to.handle,
                caf::make_message(deliver_atom_v,
                                  delivery{self->state.name, first_offset, std::move(frames)}));
}

/// Hands `frames` to every live subscriber: straight to its sink when it has
/// one, otherwise in one message that all the others share.
void deliver_live(self_ptr self, uint64_t first_offset, const std::vector<frame_ptr>& frames) {
  auto& st = self->state;
  caf::message shared;
  for (auto& [addr, sub] : st.subscribers) {
    if (sub.at != phase::live)
      continue;
    if (sub.sink) {
      sub.sink->deliver(frames);
      continue;
    }
    if (shared.empty())
      shared = caf::make_message(deliver_atom_v, delivery{st.name, first_offset, frames});
    send_shared(self, sub.handle, shared);
  }
}

/// Frames of the ring from `offset` on (the caller checked it is covered).
std::vector<frame_ptr> ring_from(const channel_state& st, uint64_t offset) {
  std::vector<frame_ptr> out;
  if (st.ring.empty() || offset > st.top)
    return out;
  size_t start = static_cast<size_t>(offset - st.ring.front().offset);
  out.reserve(st.ring.size() - start);
  for (size_t i = start; i < st.ring.size(); ++i)
    out.push_back(st.ring[i].frame);
  return out;
}

/// The Publication object inside a publication push frame of this channel:
/// {"push":{"channel":C,"pub":P}} -> P.
std::string publication_of(const channel_state& st, const std::string& frame) {
  return frame.substr(st.pub_prefix, frame.size() - st.pub_prefix - 2);
}

size_t bytes_of(const std::vector<frame_ptr>& frames) {
  size_t bytes = 0;
  for (const auto& f : frames)
    bytes += f->size();
  return bytes;
}

bool ring_covers(const channel_state& st, uint64_t offset) {
  return offset > st.top || (!st.ring.empty() && offset >= st.ring.front().offset);
}

void arm_idle_timer(self_ptr self) {
  auto& st = self->state;
  if (!st.subscribers.empty())
    return;
  auto generation = ++st.idle_generation;
  if (st.options.idle_stop.count() == 0)
    self->send(self, tick_atom_v, generation);
  else
    self->delayed_send(self, st.options.idle_stop, tick_atom_v, generation);
}

/// Sends the gathered join/leave pushes to every live subscriber, all in
/// one delivery.
void flush_join_leave(self_ptr self) {
  auto& st = self->state;
  if (st.join_leave.empty())
    return;
  deliver_live(self, 0, std::exchange(st.join_leave, {}));
}

/// Gathers a join/leave push until the messages already in the mailbox (a
/// burst of subscribes, say) are handled: the flush_atom queues behind them.
void push_join_leave(self_ptr self, frame_ptr frame) {
  auto& st = self->state;
  if (st.join_leave.empty())
    self->send(self, flush_atom_v);
  st.join_leave.push_back(std::move(frame));
}

/// Whether a join or leave in a channel of `subscribers` (counting the one
/// who joins or leaves) is pushed: past the limit the pushes would cost
/// O(N^2), so large channels keep only presence.
bool pushes_join_leave(const channel_state& st, size_t subscribers) {
  return st.options.join_leave && subscribers <= st.options.join_leave_max_subscribers;
}

void drop_subscriber(self_ptr self, const caf::actor_addr& addr, bool tell_others) {
  auto& st = self->state;
  auto it = st.subscribers.find(addr);
  if (it == st.subscribers.end())
    return;
  auto info = it->second.info;
  const bool push_leave = tell_others && pushes_join_leave(st, st.subscribers.size());
  if (it->second.at == phase::live)
    --st.live;
  else if (it->second.at == phase::waiting)
    --st.waiting;
  self->demonitor(it->second.handle);
  st.subscribers.erase(it);
  if (push_leave)
    push_join_leave(self, join_leave_frame(st.name, info, false));
  arm_idle_timer(self);
}

/// The stream cannot be vouched for: the subscriber must resubscribe.
void resync_subscriber(self_ptr self, const caf::actor_addr& addr) {
  auto& st = self->state;
  auto it = st.subscribers.find(addr);
  if (it == st.subscribers.end())
    return;
  ++st.resyncs;
  send_shared(self, it->second.handle, caf::make_message(resync_atom_v, resync{st.name}));
  drop_subscriber(self, addr, true);
}

void set_phase(channel_state& st, subscriber& sub, phase p) {
  if (sub.at == p)
    return;
  st.live += (p == phase::live) - (sub.at == phase::live);
  st.waiting += (p == phase::waiting) - (sub.at == phase::waiting);
  sub.at = p;
}

/// Moves a subscriber that is not live on towards live: from the ring when
/// it covers what the subscriber needs, from the journal (in chunks) when
/// that is older, or by waiting when it is newer than the top. Every step
/// runs in this actor's message order, so nothing slips between.
void continue_catch_up(self_ptr self, const caf::actor_addr& addr);

/// Sends frames[from..] of a catch-up read to a paced subscriber in pieces
/// of at most options.catch_up_bytes, each after the subscriber answered
/// the previous one; then reads on.
void send_paced(self_ptr self, const caf::actor_addr& addr, uint64_t first,
                std::shared_ptr<std::vector<frame_ptr>> frames, size_t from) {
  auto& st = self->state;
  auto it = st.subscribers.find(addr);
  if (it == st.subscribers.end() || it->second.at != phase::reading)
    return;
  size_t to = from, bytes = 0;
  do
    bytes += (*frames)[to++]->size();
  while (to < frames->size() && bytes + (*frames)[to]->size() <= st.options.catch_up_bytes);
  std::vector<frame_ptr> piece(frames->begin() + static_cast<ptrdiff_t>(from),
                               frames->begin() + static_cast<ptrdiff_t>(to));
  count_deliveries(st, piece.size());
  self
    ->request(it->second.handle, caf::infinite, catch_up_atom_v,
              delivery{st.name, first + from, std::move(piece)})
    .then(
      [self, addr, first, frames, to](bool) {
        if (to < frames->size())
          send_paced(self, addr, first, frames, to);
        else
          continue_catch_up(self, addr);
      },
      [](const caf::error&) {
        // The subscriber is gone; its monitor removes it.
      });
}

void continue_catch_up(self_ptr self, const caf::actor_addr& addr) {
  auto& st = self->state;
  auto it = st.subscribers.find(addr);
  if (it == st.subscribers.end() || it->second.at == phase::live)
    return;
  auto& sub = it->second;
  if (sub.next > st.top + 1) {
    set_phase(st, sub, phase::waiting);
    return;
  }
  if (ring_covers(st, sub.next)) {
    auto frames = ring_from(st, sub.next);
    if (sub.paced && bytes_of(frames) > st.options.catch_up_bytes) {
      // Too much for one go: paced like a journal read, then back here for
      // what the ring gained meanwhile (or to the journal if it moved on).
      uint64_t first = sub.next;
      sub.next += frames.size();
      set_phase(st, sub, phase::reading);
      send_paced(self, addr, first, std::make_shared<std::vector<frame_ptr>>(std::move(frames)), 0);
      return;
    }
    if (!frames.empty())
      send_delivery(self, sub, sub.next, std::move(frames));
    set_phase(st, sub, phase::live);
    return;
  }
  set_phase(st, sub, phase::reading);
  ++st.catch_ups;
  self
    ->request(st.readers, st.options.request_timeout, read_stream_atom_v, st.name,
              storage::stream_version{sub.next}, true,
              static_cast<uint64_t>(st.options.catch_up_chunk))
    .then(
      [self, addr](stream_events& read) {
        auto& st = self->state;
        auto it = st.subscribers.find(addr);
        if (it == st.subscribers.end() || it->second.at != phase::reading)
          return;
        auto& sub = it->second;
        std::vector<frame_ptr> frames;
        uint64_t first = sub.next;
        for (const auto& e : read.events) {
          if (e.version != sub.next)
            break; // only contiguous events from where it stands
          frames.push_back(publication_frame(e));
          ++sub.next;
        }
        if (frames.empty()) {
          // The journal does not hold what the top says it should.
          resync_subscriber(self, addr);
          return;
        }
        if (sub.paced) {
          send_paced(self, addr, first, std::make_shared<std::vector<frame_ptr>>(std::move(frames)),
                     0);
          return;
        }
        send_delivery(self, sub, first, std::move(frames));
        continue_catch_up(self, addr);
      },
      [self, addr](const caf::error&) { resync_subscriber(self, addr); });
}

void on_committed(self_ptr self, const event_batch& events) {
  auto& st = self->state;
  std::vector<frame_ptr> frames;
  uint64_t first = 0;
  for (const auto& e : events) {
    if (e.version <= st.top)
      continue; // seen already (overlap with the initial read)
    if (e.version != st.top + 1) {
      // A gap the channel cannot explain: everyone must resubscribe.
      std::vector<caf::actor_addr> all;
      for (auto& [addr, sub] : st.subscribers)
        all.push_back(addr);
      for (auto& addr : all)
        resync_subscriber(self, addr);
      self->quit();
      return;
    }
    auto frame = publication_frame(e);
    if (st.options.ring_size > 0) {
      st.ring.push_back({e.version, frame});
      if (st.ring.size() > st.options.ring_size)
        st.ring.pop_front();
    }
    if (first == 0)
      first = e.version;
    st.top = e.version;
    ++st.published;
    frames.push_back(std::move(frame));
  }
  if (frames.empty())
    return;
  flush_join_leave(self); // joins and leaves before the publications after them
  if (st.live > 0) {
    count_deliveries(st, frames.size() * st.live);
    deliver_live(self, first, frames);
  }
  if (st.waiting > 0) {
    std::vector<caf::actor_addr> due;
    for (auto& [addr, sub] : st.subscribers)
      if (sub.at == phase::waiting && sub.next <= st.top)
        due.push_back(addr);
    for (auto& addr : due)
      continue_catch_up(self, addr);
  }
}

/// Registers a subscriber and answers it; the reply leaves before any
/// delivery to it.
void add_subscriber(self_ptr self, subscribe_request req, bool recover,
                    caf::typed_response_promise<subscribe_reply> promise) {
  auto& st = self->state;
  auto addr = req.subscriber.address();
  if (st.subscribers.count(addr))
    drop_subscriber(self, addr, false); // a resubscribe replaces the old one
  subscribe_reply reply;
  reply.epoch = st.options.epoch;
  reply.channel = caf::actor_cast<caf::actor>(self);
  reply.was_recovering = req.recover;
  reply.recovered = recover;
  const uint64_t offset = req.offset.value; // where the subscriber stands
  reply.offset = recover ? req.offset : storage::stream_version{st.top};
  self->monitor(req.subscriber);
  auto& sub = st.subscribers[addr] =
    subscriber{req.subscriber, std::move(req.info), phase::live, 0, req.paced, std::move(req.sink)};
  ++st.live;
  if (recover && offset < st.top && ring_covers(st, offset + 1)) {
    // What the ring holds goes in the reply itself, as Centrifugo does, up
    // to catch_up_bytes (counted as push frames, which are a little larger):
    // the rest follows as deliveries, paced, so that recovering from the
    // ring never floods the subscriber's queue.
    auto frames = ring_from(st, offset + 1);
    size_t taken = 0, bytes = 0;
    while (taken < frames.size() && bytes + frames[taken]->size() <= st.options.catch_up_bytes)
      bytes += frames[taken++]->size();
    for (size_t i = 0; i < taken; ++i)
      reply.publications.push_back(publication_of(st, *frames[i]));
    count_deliveries(st, taken);
    promise.deliver(reply);
    if (taken < frames.size()) {
      sub.next = offset + 1 + taken;
      set_phase(st, sub, phase::waiting);
      continue_catch_up(self, addr);
    }
  } else if (recover && offset != st.top) {
    promise.deliver(reply);
    // Not live yet: continue_catch_up decides between journal and waiting.
    sub.next = offset + 1;
    set_phase(st, sub, phase::waiting);
    continue_catch_up(self, addr);
  } else {
    promise.deliver(reply);
  }
  if (pushes_join_leave(st, st.subscribers.size()))
    push_join_leave(self, join_leave_frame(st.name, st.subscribers[addr].info, true));
}

channel_actor::behavior_type channel_impl(self_ptr self, std::string name, channel_options options,
                                          reader_actor readers, channel_owner registry) {
  auto& st = self->state;
  st.name = std::move(name);
  std::string prefix = "{\"push\":{\"channel\":";
  storage::append_json_string(prefix, st.name);
  st.pub_prefix = prefix.size() + 7; // ,"pub":
  st.options = std::move(options);
  st.readers = std::move(readers);
  st.registry = std::move(registry);
  // Channels live and die with their registry; subscribers are watched too.
  self->monitor(st.registry);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.registry.address())
      self->quit(dm.reason);
    else
      drop_subscriber(self, dm.source, true);
  });
  // Load the top offset and fill the ring before anything else: `await`
  // holds every other message until the read is back.
  self
    ->request(st.readers, st.options.request_timeout, read_stream_atom_v, st.name,
              storage::stream_version{std::numeric_limits<uint64_t>::max()}, false,
              static_cast<uint64_t>(st.options.ring_size))
    .await(
      [self](stream_events& read) {
        auto& st = self->state;
        st.top = read.version.value;
        for (auto it = read.events.rbegin(); it != read.events.rend(); ++it)
          st.ring.push_back({it->version, publication_frame(*it)});
        arm_idle_timer(self);
      },
      [self](const caf::error& e) { self->quit(e); });
  return {
    [self](committed_atom, const event_batch& events) {
      auto scope = self->state.stats.measure();
      self->state.stats.sample(self);
      on_committed(self, events);
    },
    [self](subscribe_atom, subscribe_request& req) -> caf::result<subscribe_reply> {
      auto& st = self->state;
      auto scope = st.stats.measure();
      ++st.subscribes_seen;
      if (!req.subscriber)
        return caf::make_error(errc::bad_request, std::string("no subscriber"));
      auto promise = self->make_response_promise<subscribe_reply>();
      bool recover =
        req.recover && st.options.recovery && (req.epoch.empty() || req.epoch == st.options.epoch);
      if (recover && req.offset.value > st.top) {
        // Ahead of this channel: recoverable only if the journal has it
        // (then it is on its way here). Ask before answering.
        self
          ->request(st.readers, st.options.request_timeout, read_stream_atom_v, st.name,
                    storage::stream_version{0}, true, uint64_t{0})
          .then(
            [self, req, promise](const stream_events& read) mutable {
              bool known = req.offset <= read.version;
              add_subscriber(self, std::move(req), known, promise);
            },
            [self, req, promise](const caf::error&) mutable {
              add_subscriber(self, std::move(req), false, promise);
            });
        return promise;
      }
      add_subscriber(self, std::move(req), recover, promise);
      return promise;
    },
    [self](unsubscribe_atom, const caf::actor& who) {
      auto scope = self->state.stats.measure();
      drop_subscriber(self, who.address(), true);
    },
    [self](presence_atom) -> presence_reply {
      auto scope = self->state.stats.measure();
      presence_reply reply;
      std::set<std::string> users;
      for (const auto& [addr, sub] : self->state.subscribers) {
        reply.clients[sub.info.client] = sub.info;
        users.insert(sub.info.user);
      }
      reply.num_users = users.size();
      return reply;
    },
    [self](stats_atom) -> actor_stats {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self, true);
      auto s = st.stats.stats("channel " + st.name, "channel");
      s.figures = {
        {"top", static_cast<int64_t>(st.top)},
        {"subscribers", static_cast<int64_t>(st.subscribers.size())},
        {"catching_up", static_cast<int64_t>(st.subscribers.size() - st.live)},
        {"waiting", static_cast<int64_t>(st.waiting)},
        {"ring", static_cast<int64_t>(st.ring.size())},
        {"published", static_cast<int64_t>(st.published)},
        {"deliveries", static_cast<int64_t>(st.deliveries)},
        {"journal_catch_ups", static_cast<int64_t>(st.catch_ups)},
        {"resyncs", static_cast<int64_t>(st.resyncs)},
      };
      return s;
    },
    [self](tick_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation == st.idle_generation && st.subscribers.empty())
        self->send(st.registry, idle_atom_v, st.name, st.subscribes_seen);
    },
    [self](flush_atom) {
      auto scope = self->state.stats.measure();
      flush_join_leave(self);
    },
    [self](stop_atom) { self->quit(); },
  };
}

} // namespace

channel_actor spawn_channel(caf::actor_system& sys, std::string name, channel_options options,
                            reader_actor readers, channel_owner registry) {
  return sys.spawn(channel_impl, std::move(name), std::move(options), std::move(readers),
                   std::move(registry));
}

} // namespace herald::actors
