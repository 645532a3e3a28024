// Channels: the subscribe hand-off (invariant 2), fan-out of shared frames,
// presence, join/leave, and stopping when idle.
#include "tests/actors/actor_fixture.hpp"

#include "actors/channel_registry.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>

namespace herald::test {
namespace {

using until_atom = caf::atom_constant<caf::atom("t_until")>;
using report_atom = caf::atom_constant<caf::atom("t_report")>;
using replied_atom = caf::atom_constant<caf::atom("t_replied")>;

/// The offset a publication frame carries.
uint64_t offset_in(const std::string& frame) {
  auto at = frame.find("\"offset\":");
  return at == std::string::npos ? 0 : std::stoull(frame.substr(at + 9));
}

/// A subscriber's direct line as the gateway's works: deliveries wait until
/// the subscriber opens it (it has its subscribe reply), then go on in the
/// channel's order; here they go to the subscriber's mailbox, to be checked
/// there with those that come as messages.
class test_sink : public actors::subscriber_sink {
public:
  explicit test_sink(caf::actor to) : to_(std::move(to)) {}

  void deliver(const std::vector<protocol::frame_ptr>& frames) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_)
      forward(frames);
    else
      held_.insert(held_.end(), frames.begin(), frames.end());
  }

  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    if (!held_.empty())
      forward(std::exchange(held_, {}));
  }

  /// Publications that came through here rather than as deliver messages.
  std::atomic<size_t> forwarded{0};

private:
  void forward(const std::vector<protocol::frame_ptr>& frames) {
    for (const auto& f : frames)
      forwarded += offset_in(*f) != 0; // not a join/leave push
    // One delivery per run of publications, and one per join/leave push,
    // which carries no offset.
    size_t i = 0;
    while (i < frames.size()) {
      uint64_t first = offset_in(*frames[i]);
      size_t j = i + 1;
      while (j < frames.size() && first != 0 && offset_in(*frames[j]) == first + (j - i))
        ++j;
      caf::anon_send(to_, actors::deliver_atom_v,
                     actors::delivery{"",
                                      first,
                                      {frames.begin() + static_cast<ptrdiff_t>(i),
                                       frames.begin() + static_cast<ptrdiff_t>(j)}});
      i = j;
    }
  }

  caf::actor to_;
  std::mutex mu_;
  bool open_ = false;
  std::vector<protocol::frame_ptr> held_;
};

/// One trial: subscribes (recovering from `since`, or not), then checks every
/// delivery as it comes: reply first, offsets contiguous, frames matching.
struct trial_state {
  uint64_t next = 0; ///< the offset the next publication must carry
  bool replied = false;
  actors::subscribe_reply reply;
  std::vector<std::string> errors;
  uint64_t until = 0;
  caf::response_promise waiting;
  bool paced = false;
  std::shared_ptr<test_sink> sink;            ///< when it subscribed with a direct line
  caf::typed_response_promise<bool> on_reply; ///< a replied_atom asked before the reply came
};

caf::behavior trial(caf::stateful_actor<trial_state>* self, actors::channel_registry_actor reg,
                    std::string channel, bool recover, uint64_t since, std::string epoch,
                    bool paced, bool direct) {
  actors::subscribe_request req{channel,
                                caf::actor_cast<caf::actor>(self),
                                actors::client_info{"u", "c", "", ""},
                                recover,
                                storage::stream_version{since},
                                epoch,
                                paced,
                                nullptr};
  self->state.paced = paced;
  if (direct) {
    self->state.sink = std::make_shared<test_sink>(caf::actor_cast<caf::actor>(self));
    req.sink = self->state.sink;
  }
  self->request(reg, 10s, actors::subscribe_atom_v, req)
    .then(
      [self](const actors::subscribe_reply& r) {
        auto& st = self->state;
        st.replied = true;
        st.reply = r;
        st.next = r.offset.value + 1;
        // Publications the channel had at hand come in the reply itself.
        for (const auto& pub : r.publications)
          if (offset_in(pub) != st.next++)
            st.errors.push_back("a publication in the reply is out of order");
        if (st.sink)
          st.sink->open();
        if (st.on_reply.pending())
          st.on_reply.deliver(true);
      },
      [self](const caf::error& e) { self->state.errors.push_back(to_string(e)); });
  auto check_done = [self] {
    auto& st = self->state;
    if (st.until != 0 && st.next > st.until && st.waiting.pending())
      st.waiting.deliver(st.errors);
  };
  auto take = [self, check_done](const actors::delivery& d) {
    auto& st = self->state;
    if (d.first_offset == 0)
      return; // join/leave
    if (!st.replied)
      st.errors.push_back("a delivery came before the subscribe reply");
    if (d.first_offset != st.next)
      st.errors.push_back("expected offset " + std::to_string(st.next) + ", got "
                          + std::to_string(d.first_offset));
    for (size_t i = 0; i < d.frames.size(); ++i)
      if (offset_in(*d.frames[i]) != d.first_offset + i)
        st.errors.push_back("a frame does not match its offset");
    st.next = d.first_offset + d.frames.size();
    check_done();
  };
  return {
    [take](actors::deliver_atom, const actors::delivery& d) { take(d); },
    // A paced subscriber (as sessions are) takes journal catch-up as
    // requests; it answers at once, the pacing has its own test.
    [self, take](actors::catch_up_atom, const actors::delivery& d) {
      if (!self->state.paced)
        self->state.errors.push_back("a catch-up request to a subscriber that is not paced");
      take(d);
      return true;
    },
    [self](actors::resync_atom, const actors::resync&) { self->state.errors.push_back("resync"); },
    [self, check_done](until_atom, uint64_t top) {
      self->state.until = top;
      self->state.waiting = self->make_response_promise();
      check_done();
      return self->state.waiting;
    },
    [self](report_atom) { return self->state.reply; },
    // Answers once the subscribe reply is in.
    [self](replied_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.replied)
        return true;
      st.on_reply = self->make_response_promise<bool>();
      return st.on_reply;
    },
    [self](report_atom, bool) -> size_t {
      return self->state.sink ? self->state.sink->forwarded.load() : 0;
    },
  };
}

/// The frames a scoped actor receives, one at a time, whether they came
/// alone or several in one delivery (gathered join/leave pushes).
class frame_reader {
public:
  explicit frame_reader(caf::scoped_actor& who) : who_(who) {}

  std::string next() {
    if (frames_.empty())
      who_->receive(
        [&](actors::deliver_atom, const actors::delivery& d) {
          ++deliveries;
          for (const auto& f : d.frames)
            frames_.push_back(*f);
        },
        caf::after(5s) >> [] { ADD_FAILURE() << "no delivery"; });
    if (frames_.empty())
      return {};
    auto frame = std::move(frames_.front());
    frames_.pop_front();
    return frame;
  }

  size_t deliveries = 0;

private:
  caf::scoped_actor& who_;
  std::deque<std::string> frames_;
};

class channel_test : public actor_fixture {
protected:
  channel_test() = default;
  explicit channel_test(const config::settings& s) : actor_fixture(s) {}

  void start(int64_t ring_size, config::duration idle_stop = std::chrono::seconds(30),
             int64_t max_queued_bytes = 1 << 20, int64_t join_leave_max_subscribers = 1000) {
    start_journal();
    config::settings s;
    s.websocket.max_queued_bytes = max_queued_bytes;
    s.channels.ring_size = ring_size;
    s.channels.idle_stop = idle_stop;
    s.channels.join_leave_max_subscribers = join_leave_max_subscribers;
    s.namespaces["chat"].join_leave = true;
    registry = actors::spawn_channel_registry(sys, s, readers, journal_file->id(),
                                              storage::journal_position{0});
    spawned.push_back(caf::actor_cast<caf::actor>(registry));
    self->send(journal, actors::listen_atom_v, caf::actor_cast<actors::batch_listener>(registry));
  }

  std::string epoch() const {
    return actors::epoch_of(journal_file->id());
  }

  actors::channel_registry_actor registry;
};

// Invariant 2. A publisher appends to one channel as fast as it can while
// hundreds of subscribers join at random positions: old ones (older than the
// ring, from the journal), recent ones (from the ring), the current top, and
// some without recovery. Each must see exactly the offsets after its
// position, in order, with no gap and no duplicate.
TEST_F(channel_test, subscribe_hand_off_has_no_gap_and_no_duplicate) {
  start(16);
  const std::string channel = "chat:race";
  constexpr int events = 4000, trials = 300;
  std::atomic<uint64_t> top{0};
  std::thread publisher([&] {
    caf::scoped_actor me(sys);
    int sent = 0, acked = 0;
    while (acked < events) {
      // Keep up to 32 appends in flight: group commit takes them together.
      while (sent < events && sent - acked < 32) {
        me->send(journal, actors::append_atom_v,
                 storage::append_request{channel,
                                         storage::expected_version::any(),
                                         {storage::new_event{"message", "", "", "\xa1x"}}});
        ++sent;
      }
      me->receive(
        [&](const storage::append_result& r) {
          ++acked;
          uint64_t seen = top.load();
          while (r.last_version > seen && !top.compare_exchange_weak(seen, r.last_version)) {
          }
        },
        [&](const caf::error& e) {
          ADD_FAILURE() << sys.render(e);
          ++acked;
        });
    }
  });
  std::mt19937 rng(11);
  struct started {
    caf::actor actor;
    bool recover;
    uint64_t since;
  };
  std::vector<started> all;
  for (int i = 0; i < trials; ++i) {
    // Spread the trials over the whole run: wait for the publisher's progress.
    const uint64_t progress = static_cast<uint64_t>(i) * events / trials;
    while (top.load() < progress)
      std::this_thread::yield();
    uint64_t now = top.load();
    uint64_t since = now == 0 ? 0 : rng() % (now + 1);
    if (i % 10 == 0)
      since = now; // right at the top
    bool recover = i % 7 != 0;
    bool paced = i % 2 == 0; // sessions subscribe paced; half the trials do too
    // Sessions also hand the channel a direct line; trials take all four
    // combinations.
    bool direct = i % 4 < 2;
    auto a = sys.spawn(trial, registry, channel, recover, since, epoch(), paced, direct);
    all.push_back({a, recover, since});
    spawned.push_back(a);
  }
  publisher.join();
  ASSERT_EQ(top.load(), static_cast<uint64_t>(events));
  for (const auto& t : all) {
    self->request(t.actor, 30s, until_atom{}, uint64_t{events})
      .receive(
        [&](const std::vector<std::string>& errors) {
          EXPECT_TRUE(errors.empty()) << errors.front();
        },
        [&](const caf::error& e) { ADD_FAILURE() << "trial stalled: " << sys.render(e); });
    self->request(t.actor, 5s, report_atom{})
      .receive(
        [&](const actors::subscribe_reply& r) {
          if (t.recover) {
            EXPECT_TRUE(r.recovered);
            EXPECT_EQ(r.offset.value, t.since);
          } else {
            EXPECT_FALSE(r.recovered);
          }
          EXPECT_EQ(r.epoch, epoch());
        },
        [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  }
  // Many trials started far behind the 16-event ring: the journal served them.
  self->request(registry, 5s, actors::stats_atom_v)
    .receive(
      [&](const actors::actor_stats& s) {
        EXPECT_GT(s.figures.at("journal_catch_ups"), trials / 4);
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

/// A paced subscriber that answers each catch-up piece only when the test
/// says so (step_atom), and records whether a piece ever came while the one
/// before was unanswered.
struct lazy_state {
  uint64_t next = 0;
  size_t pieces = 0;
  size_t largest_piece = 0;
  std::vector<caf::response_promise> unanswered;
  std::vector<std::string> errors;
};

using step_atom = caf::atom_constant<caf::atom("t_step")>;

caf::behavior lazy_reader(caf::stateful_actor<lazy_state>* self, actors::channel_registry_actor reg,
                          std::string channel) {
  actors::subscribe_request req{channel,
                                caf::actor_cast<caf::actor>(self),
                                actors::client_info{"u", "c", "", ""},
                                true,
                                storage::stream_version{0},
                                "",
                                true,
                                nullptr};
  self->request(reg, 10s, actors::subscribe_atom_v, req)
    .then(
      [self](const actors::subscribe_reply& r) {
        // Publications in the reply count as a piece the subscriber holds.
        auto& st = self->state;
        st.next = r.offset.value + 1;
        size_t bytes = 0;
        for (const auto& pub : r.publications) {
          if (offset_in(pub) != st.next++)
            st.errors.push_back("a publication in the reply is out of order");
          bytes += pub.size();
        }
        st.largest_piece = std::max(st.largest_piece, bytes);
      },
      [self](const caf::error& e) { self->state.errors.push_back(to_string(e)); });
  auto take = [self](const actors::delivery& d) {
    auto& st = self->state;
    if (d.first_offset != st.next)
      st.errors.push_back("expected offset " + std::to_string(st.next) + ", got "
                          + std::to_string(d.first_offset));
    st.next = d.first_offset + d.frames.size();
  };
  return {
    [self, take](actors::catch_up_atom, const actors::delivery& d) {
      auto& st = self->state;
      if (!st.unanswered.empty())
        st.errors.push_back("a catch-up piece came before the last was answered");
      ++st.pieces;
      size_t bytes = 0;
      for (const auto& f : d.frames)
        bytes += f->size();
      st.largest_piece = std::max(st.largest_piece, bytes);
      take(d);
      st.unanswered.push_back(self->make_response_promise());
      return st.unanswered.back();
    },
    [self, take](actors::deliver_atom, const actors::delivery& d) {
      if (d.first_offset == 0)
        return;
      auto& st = self->state;
      if (!st.unanswered.empty())
        st.errors.push_back("a live delivery overtook an unanswered piece");
      size_t bytes = 0;
      for (const auto& f : d.frames)
        bytes += f->size();
      st.largest_piece = std::max(st.largest_piece, bytes);
      take(d);
    },
    [self](actors::resync_atom, const actors::resync&) { self->state.errors.push_back("resync"); },
    [self](step_atom) {
      // Answers what is pending; reports progress: next offset, pieces.
      for (auto& p : std::exchange(self->state.unanswered, {}))
        p.deliver(true);
      return caf::make_message(self->state.next, static_cast<uint64_t>(self->state.pieces));
    },
    [self](report_atom) {
      return caf::make_message(self->state.errors, self->state.largest_piece);
    },
  };
}

// A client recovering a long backlog gets it from the journal one bounded
// piece at a time, each after it took the last: what the channel sends it
// never runs ahead of what it reads.
TEST_F(channel_test, paced_catch_up_waits_for_each_piece_to_be_taken) {
  start(16, std::chrono::seconds(30), 16 * 1024); // pieces of at most 8 KiB
  const std::string channel = "chat:backlog";
  const std::string data = "\xa1x"; // msgpack "x"
  constexpr uint64_t events = 2000;
  for (uint64_t i = 0; i < events; ++i)
    append(channel, storage::expected_version::any(), data);
  auto reader = sys.spawn(lazy_reader, registry, channel);
  spawned.push_back(reader);
  uint64_t next = 0, pieces = 0, steps = 0;
  while (next <= events && steps < 100000) {
    ++steps;
    self->request(reader, 10s, step_atom{})
      .receive(
        [&](uint64_t n, uint64_t p) {
          next = n;
          pieces = p;
        },
        [&](const caf::error& e) { FAIL() << sys.render(e); });
  }
  EXPECT_EQ(next, events + 1) << "the backlog did not arrive whole";
  self->request(reader, 10s, report_atom{})
    .receive(
      [&](const std::vector<std::string>& errors, size_t largest) {
        EXPECT_TRUE(errors.empty()) << errors.front();
        EXPECT_LE(largest, 8u * 1024);
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  // 2000 publication frames of ~100 bytes in 8 KiB pieces: many pieces.
  EXPECT_GT(pieces, 10u);
}

// Recovery from the ring is paced too: large publications the ring holds do
// not all come in the subscribe reply (which the subscriber's queue would
// have to take at once), only what fits the piece size; the rest follows in
// pieces, each after the last was taken, then live ones, all in order.
TEST_F(channel_test, ring_recovery_of_large_publications_arrives_paced) {
  start(1024, std::chrono::seconds(30), 16 * 1024); // pieces of at most 8 KiB
  const std::string channel = "chat:large";
  std::string data = "\xda\x07\xd0" + std::string(2000, 'x'); // msgpack str of 2000 bytes
  constexpr uint64_t before = 40, after = 40;
  for (uint64_t i = 0; i < before; ++i)
    append(channel, storage::expected_version::any(), data);
  auto reader = sys.spawn(lazy_reader, registry, channel);
  spawned.push_back(reader);
  uint64_t next = 0, pieces = 0, steps = 0;
  auto step = [&] {
    ++steps;
    self->request(reader, 10s, step_atom{})
      .receive(
        [&](uint64_t n, uint64_t p) {
          next = n;
          pieces = p;
        },
        [&](const caf::error& e) { FAIL() << sys.render(e); });
  };
  step();
  step();
  // More come while it recovers: they queue behind the recovery.
  for (uint64_t i = 0; i < after; ++i)
    append(channel, storage::expected_version::any(), data);
  while (next <= before + after && steps < 100000)
    step();
  EXPECT_EQ(next, before + after + 1) << "the publications did not arrive whole";
  self->request(reader, 10s, report_atom{})
    .receive(
      [&](const std::vector<std::string>& errors, size_t largest) {
        EXPECT_TRUE(errors.empty()) << errors.front();
        EXPECT_LE(largest, 8u * 1024) << "the subscriber got more than a piece at once";
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_GT(pieces, 5u);
}

TEST_F(channel_test, a_wrong_epoch_or_a_future_offset_is_not_recovered) {
  start(16);
  for (int i = 0; i < 5; ++i)
    append("chat:e", storage::expected_version::any(), "\xa1x");
  for (auto [ep, since] : {std::pair<std::string, uint64_t>{"other", 2}, {epoch(), 9}}) {
    actors::subscribe_request req;
    req.channel = "chat:e";
    req.subscriber = caf::actor_cast<caf::actor>(self);
    req.recover = true;
    req.offset = storage::stream_version{since};
    req.epoch = ep;
    self->request(registry, 5s, actors::subscribe_atom_v, req)
      .receive(
        [&](const actors::subscribe_reply& r) {
          EXPECT_FALSE(r.recovered);
          EXPECT_TRUE(r.was_recovering);
          EXPECT_EQ(r.offset.value, 5u);
        },
        [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  }
}

// A subscriber that hands the channel a direct line gets its live
// publications through it, none as messages; one without gets them all as
// messages. Both in order, after the subscribe reply.
TEST_F(channel_test, live_publications_go_through_a_direct_line_when_there_is_one) {
  start(16);
  const std::string channel = "chat:direct";
  auto direct = sys.spawn(trial, registry, channel, false, uint64_t{0}, epoch(), true, true);
  auto plain = sys.spawn(trial, registry, channel, false, uint64_t{0}, epoch(), true, false);
  spawned.push_back(direct);
  spawned.push_back(plain);
  for (auto& a : {direct, plain}) // subscribed before the first append
    self->request(a, 5s, replied_atom{})
      .receive([](bool) {}, [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  constexpr uint64_t events = 10;
  for (uint64_t i = 0; i < events; ++i)
    self
      ->request(journal, 5s, actors::append_atom_v,
                storage::append_request{channel,
                                        storage::expected_version::any(),
                                        {storage::new_event{"message", "", "", "\xa1x"}}})
      .receive([](const storage::append_result&) {},
               [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  for (auto& [a, through_sink] : {std::pair{direct, events}, std::pair{plain, uint64_t{0}}}) {
    self->request(a, 10s, until_atom{}, events)
      .receive(
        [&](const std::vector<std::string>& errors) {
          EXPECT_TRUE(errors.empty()) << errors.front();
        },
        [&](const caf::error& e) { ADD_FAILURE() << "stalled: " << sys.render(e); });
    self->request(a, 5s, report_atom{}, true)
      .receive([&](size_t forwarded) { EXPECT_EQ(forwarded, through_sink); },
               [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  }
}

TEST_F(channel_test, presence_and_join_leave) {
  start(16);
  auto subscribe = [&](caf::scoped_actor& who, const std::string& user) {
    actors::subscribe_request req;
    req.channel = "chat:p";
    req.subscriber = caf::actor_cast<caf::actor>(who);
    req.info = actors::client_info{user, "client-" + user, "", ""};
    actors::subscribe_reply reply;
    who->request(registry, 5s, actors::subscribe_atom_v, req)
      .receive([&](const actors::subscribe_reply& r) { reply = r; },
               [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return reply;
  };
  caf::scoped_actor ann(sys), bob(sys);
  auto reply = subscribe(ann, "ann");
  subscribe(bob, "bob");
  frame_reader ann_frames(ann);
  auto next_frame = [&](caf::scoped_actor&) { return ann_frames.next(); };
  // Ann sees her own join, then Bob's.
  EXPECT_NE(next_frame(ann).find("\"join\":{\"info\":{\"user\":\"ann\""), std::string::npos);
  EXPECT_NE(next_frame(ann).find("\"join\":{\"info\":{\"user\":\"bob\""), std::string::npos);
  self->request(registry, 5s, actors::presence_atom_v, std::string("chat:p"))
    .receive(
      [&](const actors::presence_reply& p) {
        EXPECT_EQ(p.clients.size(), 2u);
        EXPECT_EQ(p.num_users, 2u);
        EXPECT_EQ(p.clients.at("client-bob").user, "bob");
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  bob->send(reply.channel, actors::unsubscribe_atom_v, caf::actor_cast<caf::actor>(bob));
  EXPECT_NE(next_frame(ann).find("\"leave\":{\"info\":{\"user\":\"bob\""), std::string::npos);
  // A publication reaches Ann with the publisher's data, offset and tags.
  append("chat:p", storage::expected_version::any(), "\x81\xa4text\xa2hi", "message");
  auto pub = next_frame(ann);
  EXPECT_EQ(pub,
            "{\"push\":{\"channel\":\"chat:p\",\"pub\":{\"data\":{\"text\":\"hi\"},\"offset\":1,"
            "\"tags\":{\"type\":\"message\",\"position\":\"1\"}}}}");
  self->request(registry, 5s, actors::presence_atom_v, std::string("nobody:here"))
    .receive([&](const actors::presence_reply& p) { EXPECT_TRUE(p.clients.empty()); },
             [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

// Past channels.join_leave_max_subscribers a channel pushes no join or
// leave (each would go to every subscriber: O(N^2)); presence stays exact.
TEST_F(channel_test, join_leave_stops_past_the_subscriber_limit_and_presence_stays_exact) {
  start(16, std::chrono::seconds(30), 1 << 20, 3);
  const std::string channel = "chat:big";
  std::vector<std::unique_ptr<caf::scoped_actor>> clients;
  actors::subscribe_reply last;
  auto subscribe = [&] {
    clients.push_back(std::make_unique<caf::scoped_actor>(sys));
    auto& who = *clients.back();
    std::string user = "user-" + std::to_string(clients.size());
    actors::subscribe_request req;
    req.channel = channel;
    req.subscriber = caf::actor_cast<caf::actor>(who);
    req.info = actors::client_info{user, "client-" + user, "", ""};
    who->request(registry, 5s, actors::subscribe_atom_v, req)
      .receive([&](const actors::subscribe_reply& r) { last = r; },
               [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  };
  std::unique_ptr<frame_reader> first_frames;
  auto next_frame = [&](caf::scoped_actor&) { return first_frames->next(); };
  for (int i = 0; i < 3; ++i)
    subscribe();
  first_frames = std::make_unique<frame_reader>(*clients[0]);
  // Up to the limit (3 subscribers) the first one hears every join.
  for (int i = 1; i <= 3; ++i)
    EXPECT_NE(next_frame(*clients[0])
                .find("\"join\":{\"info\":{\"user\":\"user-" + std::to_string(i) + "\""),
              std::string::npos);
  // Past it, neither joins nor leaves: the next thing it gets is the publication.
  subscribe();
  subscribe();
  auto& leaver = *clients.back();
  leaver->send(last.channel, actors::unsubscribe_atom_v, caf::actor_cast<caf::actor>(leaver));
  append(channel, storage::expected_version::any(), "\xa1x");
  EXPECT_NE(next_frame(*clients[0]).find("\"pub\":"), std::string::npos);
  // Presence still lists everyone subscribed.
  self->request(registry, 5s, actors::presence_atom_v, channel)
    .receive(
      [&](const actors::presence_reply& p) {
        EXPECT_EQ(p.clients.size(), 4u);
        EXPECT_EQ(p.clients.count("client-user-4"), 1u);
        EXPECT_EQ(p.clients.count("client-user-5"), 0u);
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

/// Channels on a scheduler of one thread, which a test can hold: whatever
/// it sends meanwhile is all in the mailboxes when the actors run again.
class channel_on_one_thread_test : public channel_test {
protected:
  channel_on_one_thread_test() : channel_test(one_thread()) {}

  static config::settings one_thread() {
    config::settings s;
    s.server.scheduler_threads = 1;
    return s;
  }

  /// Keeps the scheduler's only thread busy until `release` is set (or 10 s
  /// pass, so a failing test cannot hang); returns once it is held.
  void hold_scheduler(std::shared_future<void> release) {
    std::promise<void> held;
    auto holder = sys.spawn([&held, release](caf::event_based_actor* a) -> caf::behavior {
      return {[&held, release, a](caf::ok_atom) {
        held.set_value();
        release.wait_for(10s);
        a->quit();
      }};
    });
    self->send(holder, caf::ok_atom_v);
    ASSERT_EQ(held.get_future().wait_for(10s), std::future_status::ready);
  }
};

// A burst of subscribes that reaches the channel before it runs: the joins
// it gathers go to each subscriber as one delivery, not one each (which
// made a filling channel cost O(N^2) messages). The scheduler is held while
// the burst is sent, so every subscribe is in the mailbox ahead of the flush
// the first one queues, and the design allows exactly one delivery.
TEST_F(channel_on_one_thread_test, joins_of_a_burst_of_subscribes_are_gathered_into_one_delivery) {
  start(16);
  const std::string channel = "chat:burst";
  caf::scoped_actor first(sys);
  actors::subscribe_request req;
  req.channel = channel;
  req.subscriber = caf::actor_cast<caf::actor>(first);
  req.info = actors::client_info{"first", "client-first", "", ""};
  actors::subscribe_reply reply;
  first->request(registry, 5s, actors::subscribe_atom_v, req)
    .receive([&](const actors::subscribe_reply& r) { reply = r; },
             [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  frame_reader frames(first);
  EXPECT_NE(frames.next().find("\"user\":\"first\""), std::string::npos);
  const size_t deliveries_before = frames.deliveries;
  std::promise<void> release;
  hold_scheduler(release.get_future().share());
  // Straight to the channel, without waiting for the replies.
  constexpr int burst = 200;
  std::vector<std::unique_ptr<caf::scoped_actor>> others;
  for (int i = 0; i < burst; ++i) {
    auto& who = *others.emplace_back(std::make_unique<caf::scoped_actor>(sys));
    req.subscriber = caf::actor_cast<caf::actor>(who);
    req.info = actors::client_info{"u" + std::to_string(i), "c" + std::to_string(i), "", ""};
    self->send(reply.channel, actors::subscribe_atom_v, req);
  }
  release.set_value();
  // Every join arrives, in the order of the subscribes, in one delivery.
  for (int i = 0; i < burst; ++i)
    EXPECT_NE(frames.next().find("\"user\":\"u" + std::to_string(i) + "\""), std::string::npos)
      << i;
  EXPECT_EQ(frames.deliveries - deliveries_before, 1u);
}

TEST_F(channel_test, an_idle_channel_stops_and_a_new_one_takes_over) {
  start(16, std::chrono::milliseconds(0));
  append("chat:idle", storage::expected_version::any(), "\xa1x");
  actors::subscribe_request req;
  req.channel = "chat:idle";
  req.subscriber = caf::actor_cast<caf::actor>(self);
  actors::subscribe_reply reply;
  self->request(registry, 5s, actors::subscribe_atom_v, req)
    .receive([&](const actors::subscribe_reply& r) { reply = r; },
             [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_EQ(reply.offset.value, 1u);
  self->monitor(reply.channel);
  self->send(reply.channel, actors::unsubscribe_atom_v, caf::actor_cast<caf::actor>(self));
  bool down = false;
  self->receive([&](const caf::down_msg& dm) { down = dm.source == reply.channel.address(); },
                caf::after(5s) >> [] {});
  ASSERT_TRUE(down) << "the idle channel did not stop";
  // The next subscription gets a fresh channel that knows the stream.
  append("chat:idle", storage::expected_version::any(), "\xa1y");
  self->request(registry, 5s, actors::subscribe_atom_v, req)
    .receive(
      [&](const actors::subscribe_reply& r) {
        EXPECT_EQ(r.offset.value, 2u);
        EXPECT_NE(r.channel, reply.channel);
      },
      [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

/// Journal readers that take every request and never answer.
actors::reader_actor::behavior_type
silent_readers(actors::reader_actor::stateful_pointer<std::vector<caf::response_promise>> self) {
  auto hold = [self] {
    self->state.push_back(self->make_response_promise());
    return caf::delegated<actors::stream_events>{};
  };
  return {
    [hold](actors::read_stream_atom, const std::string&, storage::stream_version, bool, uint64_t) {
      return hold();
    },
    [hold](actors::read_stream_atom, const std::string&, storage::stream_version, bool, uint64_t,
           uint64_t) { return hold(); },
    [self](actors::read_all_atom, storage::journal_position, uint64_t) {
      self->state.push_back(self->make_response_promise());
      return caf::delegated<actors::event_batch>{};
    },
    [self](actors::head_atom) {
      self->state.push_back(self->make_response_promise());
      return caf::delegated<storage::journal_position>{};
    },
    [self](actors::stats_atom) {
      self->state.push_back(self->make_response_promise());
      return caf::delegated<actors::actor_stats>{};
    },
  };
}

// A channel gives up on readers that do not answer after
// server.actor_request_timeout: its start-up read fails, the channel stops,
// and the subscription waiting behind that read gets an error well before
// the subscriber's own (much longer) timeout.
TEST_F(channel_test, reads_give_up_after_the_actor_request_timeout) {
  auto readers = sys.spawn(silent_readers);
  spawned.push_back(caf::actor_cast<caf::actor>(readers));
  config::settings s;
  s.server.actor_request_timeout = 200ms;
  registry = actors::spawn_channel_registry(sys, s, readers, "0123456789abcdef",
                                            storage::journal_position{0});
  spawned.push_back(caf::actor_cast<caf::actor>(registry));
  actors::subscribe_request req;
  req.channel = "chat:silent";
  req.subscriber = caf::actor_cast<caf::actor>(self);
  const auto subscriber_timeout = 60s;
  auto started = std::chrono::steady_clock::now();
  bool failed = false;
  self->request(registry, subscriber_timeout, actors::subscribe_atom_v, req)
    .receive([&](const actors::subscribe_reply&) { ADD_FAILURE() << "a reply without a read"; },
             [&](const caf::error&) { failed = true; });
  EXPECT_TRUE(failed);
  // Far below the 30 s default, far above 200 ms on a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s)
    << "the channel did not use server.actor_request_timeout";
}

} // namespace
} // namespace herald::test
