// Exactly once under kill -9: a child process runs the default node (the
// mentions processor over chat messages, waiting on the users projection)
// while it appends messages that mention one to three users as fast as it
// can; the parent kills it with SIGKILL at random moments. After each kill
// the journal must hold, for every message up to the processor's
// checkpoint, exactly one derived event per mentioned name (none missing,
// none twice), and none for messages past it. The next child resumes there.
//
// The second test does the same across rebuilds: some children first rebuild
// the processor from a random position and are killed right after the
// rebuild is answered, or while it derives again, or anywhere. Each
// generation must then have derived, from where its rebuild started, every
// message once and none twice, up to where it got; the answered rebuild is
// in the journal.
#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"
#include "tests/actors/node_fixture.hpp"

#include <rapidjson/document.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>
#include <set>

namespace herald::test {
namespace {

constexpr int kills = 15;

config::settings crash_settings(const std::string& dir) {
  auto s = config::load({});
  s.server.data_dir = dir;
  s.processors.batch_events = 64;
  s.processors.retry_every = config::duration(50);
  s.projections.snapshot_every_events = 0;
  s.projections.snapshot_every = config::duration(0);
  return s;
}

/// With `rebuild_from`, the child first rebuilds the processor from there
/// and writes a byte to `answered` once the rebuild is answered.
[[noreturn]] void run_child(const std::string& dir, unsigned seed, uint64_t rebuild_from = 0,
                            int answered = -1) {
  node_harness h(crash_settings(dir));
  if (rebuild_from)
    h.self
      ->request(h.node.processors, 60s, actors::rebuild_atom_v, std::string("mentions"),
                rebuild_from, std::string("the crash test"))
      .receive(
        [&](const actors::processor_status&) {
          if (::write(answered, "r", 1) != 1)
            _exit(3);
        },
        [&](const caf::error&) { _exit(4); });
  std::mt19937 rng(seed);
  int in_flight = 0;
  for (int i = 0;; ++i) {
    while (in_flight < 16) {
      std::string mentions;
      for (unsigned k = 0, n = 1 + rng() % 3; k < n; ++k)
        mentions += std::string(k ? "," : "") + "\"u" + std::to_string(rng() % 7) + "\"";
      std::string data, error;
      protocol::json_to_msgpack("{\"author\":\"a\",\"text\":\"t" + std::to_string(i)
                                  + "\",\"mentions\":[" + mentions + "]}",
                                data, error);
      h.self->send(h.node.journal, actors::append_atom_v,
                   storage::append_request{"chat:r" + std::to_string(rng() % 5),
                                           storage::expected_version::any(),
                                           {storage::new_event{"message", "", "", data}}});
      ++in_flight;
    }
    h.self->receive([&](const storage::append_result&) { --in_flight; },
                    [&](const caf::error&) { --in_flight; });
  }
}

/// The distinct names a message mentions.
std::set<std::string> mentioned(const storage::recorded_event& e) {
  std::string json;
  EXPECT_TRUE(storage::msgpack_to_json(e.data, json));
  rapidjson::Document d;
  d.Parse(json.c_str());
  std::set<std::string> out;
  for (const auto& m : d["mentions"].GetArray())
    out.insert(m.GetString());
  return out;
}

struct journal_check {
  uint64_t checkpoint = 0;
  uint64_t messages = 0;
  uint64_t derived = 0;
};

/// Checks exactly-once over the whole journal; returns what it saw.
journal_check check_journal(const std::string& path, int round) {
  storage::journal_reader journal(path);
  journal_check c;
  c.checkpoint = journal.processor_checkpoint("mentions");
  std::map<std::string, std::pair<uint64_t, std::set<std::string>>>
    messages;                                                // id -> position, names
  std::map<std::string, std::multiset<std::string>> derived; // source id -> inboxes
  for (uint64_t from = 1;;) {
    auto page = journal.read_all(from, 5000);
    if (page.empty())
      break;
    for (const auto& e : page) {
      if (e.stream.rfind("chat:", 0) == 0) {
        messages[e.id] = {e.position, mentioned(e)};
        ++c.messages;
      } else if (e.stream.rfind("inbox:", 0) == 0) {
        derived[storage::decode_meta(e.meta).causation].insert(e.stream.substr(6));
        ++c.derived;
      }
    }
    from = page.back().position + 1;
  }
  for (const auto& [id, names] : derived)
    EXPECT_TRUE(messages.count(id)) << "round " << round << ": a mention of no message: " << id;
  for (const auto& [id, m] : messages) {
    const auto& [position, names] = m;
    auto it = derived.find(id);
    std::multiset<std::string> got =
      it == derived.end() ? std::multiset<std::string>{} : it->second;
    if (position <= c.checkpoint)
      EXPECT_EQ(got, std::multiset<std::string>(names.begin(), names.end()))
        << "round " << round << ": message at " << position << " (checkpoint " << c.checkpoint
        << ")";
    else
      EXPECT_TRUE(got.empty()) << "round " << round << ": message at " << position
                               << " past the checkpoint " << c.checkpoint << " has mentions";
  }
  return c;
}

TEST(processor_crash, every_message_has_its_mentions_exactly_once_after_kill_9) {
  temp_dir dir;
  std::mt19937 rng(
    static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const std::string journal = (dir.path() / "journal.db").string();
  uint64_t last = 0;
  int advanced = 0;
  for (int round = 0; round < kills; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
      run_child(dir.path().string(), static_cast<unsigned>(rng()));
    // 300..900 ms: long enough to start, then anywhere in the middle of work.
    usleep(static_cast<useconds_t>(300000 + rng() % 600000));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself";
    auto c = check_journal(journal, round);
    if (HasFailure())
      return;
    ASSERT_GE(c.checkpoint, last) << "round " << round << ": the checkpoint went back";
    advanced += c.checkpoint > last;
    last = c.checkpoint;
  }
  EXPECT_GE(advanced, kills / 2) << "the processor rarely moved between kills";
  // A last run without load lets the processor catch up with everything.
  {
    node_harness h(crash_settings(dir.path().string()));
    storage::journal_reader reader(journal);
    const uint64_t head = reader.head();
    ASSERT_TRUE(h.eventually(
      [&] {
        uint64_t position = 0;
        h.self->request(h.node.processors, 10s, actors::status_atom_v, std::string("mentions"))
          .receive([&](const actors::processor_status& s) { position = s.position; },
                   [&](const caf::error&) {});
        return position >= head;
      },
      120s));
  }
  auto c = check_journal(journal, kills);
  EXPECT_GT(c.messages, 500u);
  EXPECT_GT(c.derived, c.messages);
}

/// A rebuild's journal: where each generation started deriving (generation
/// 0 at the start of the log).
using starts = std::map<uint64_t, uint64_t>;

/// Exactly once per generation over the whole journal: each generation g
/// derived every message from starts[g] up to the last one it derived, each
/// with all its mentions once, and nothing before starts[g]; the current
/// generation exactly the messages from its start to the checkpoint. Derived
/// ids name their generation and source position.
journal_check check_generations(const std::string& path, const starts& from, int round) {
  storage::journal_reader journal(path);
  journal_check c;
  c.checkpoint = journal.processor_checkpoint("mentions");
  const uint64_t current = journal.processor_generation("mentions");
  std::map<uint64_t, std::set<std::string>> messages; // position -> names
  std::map<std::string, uint64_t> position_of;        // message id -> position
  // generation -> source position -> inboxes
  std::map<uint64_t, std::map<uint64_t, std::multiset<std::string>>> derived;
  for (uint64_t at = 1;;) {
    auto page = journal.read_all(at, 5000);
    if (page.empty())
      break;
    for (const auto& e : page) {
      if (e.stream.rfind("chat:", 0) == 0) {
        messages[e.position] = mentioned(e);
        position_of[e.id] = e.position;
        ++c.messages;
      } else if (e.stream.rfind("inbox:", 0) == 0) {
        auto meta = storage::decode_meta(e.meta);
        auto source = position_of.find(meta.causation);
        EXPECT_NE(source, position_of.end()) << "round " << round << ": " << e.id;
        if (source == position_of.end())
          continue;
        const std::string prefix =
          "mentions-" + (meta.generation ? "g" + std::to_string(meta.generation) + "-" : "")
          + std::to_string(source->second) + "-";
        EXPECT_EQ(e.id.rfind(prefix, 0), 0u) << "round " << round << ": " << e.id;
        derived[meta.generation][source->second].insert(e.stream.substr(6));
        ++c.derived;
      }
    }
    at = page.back().position + 1;
  }
  EXPECT_TRUE(from.count(current)) << "round " << round << ": generation " << current;
  derived[current]; // checked even before it derived anything
  for (const auto& [generation, by_source] : derived) {
    auto start = from.find(generation);
    EXPECT_NE(start, from.end()) << "round " << round << ": a generation no rebuild made";
    if (start == from.end())
      continue;
    uint64_t last = by_source.empty() ? 0 : by_source.rbegin()->first;
    if (generation == current) {
      EXPECT_LE(last, c.checkpoint) << "round " << round << ": past the checkpoint";
      last = c.checkpoint;
    }
    for (const auto& [position, names] : messages) {
      if (position > last)
        break;
      auto it = by_source.find(position);
      std::multiset<std::string> got =
        it == by_source.end() ? std::multiset<std::string>{} : it->second;
      std::multiset<std::string> want;
      if (position >= start->second)
        want.insert(names.begin(), names.end());
      EXPECT_EQ(got, want) << "round " << round << ": generation " << generation << " (from "
                           << start->second << "), message at " << position;
    }
  }
  return c;
}

/// Waits up to `ms` for the child's byte; whether it came.
bool answered_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1)
    return false;
  char byte = 0;
  return ::read(fd, &byte, 1) == 1;
}

TEST(processor_crash, rebuilds_keep_exactly_once_per_generation_across_kill_9) {
  temp_dir dir;
  std::mt19937 rng(
    static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const std::string journal = (dir.path() / "journal.db").string();
  starts from{{0, 1}};
  int rebuilt = 0;
  for (int round = 0; round < kills; ++round) {
    // Round 0 makes a log to rebuild over; then in turn: kill anywhere, kill
    // right after the rebuild is answered, kill while it derives again, or
    // kill anywhere while a rebuild may be under way.
    const int mode = round == 0 ? 0 : round % 4;
    uint64_t head = 0, generation = 0;
    if (round > 0) {
      storage::journal_reader reader(journal);
      head = reader.head();
      generation = reader.processor_generation("mentions");
    }
    const uint64_t rebuild_from = mode == 0 ? 0 : 1 + rng() % (head + 1);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      run_child(dir.path().string(), static_cast<unsigned>(rng()), rebuild_from, fds[1]);
    }
    close(fds[1]);
    bool answered = false;
    if (mode == 1 || mode == 2) {
      answered = answered_within(fds[0], 60000);
      EXPECT_TRUE(answered) << "round " << round << ": the rebuild was not answered";
      if (mode == 2)
        usleep(static_cast<useconds_t>(20000 + rng() % 400000));
    } else {
      usleep(static_cast<useconds_t>(300000 + rng() % 600000));
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": the child ended by itself";
    if (mode == 3)
      answered = answered_within(fds[0], 0);
    close(fds[0]);
    const uint64_t now = storage::journal_reader(journal).processor_generation("mentions");
    if (answered)
      ASSERT_EQ(now, generation + 1) << "round " << round << ": an answered rebuild is lost";
    else
      ASSERT_LE(now, generation + (rebuild_from ? 1 : 0)) << "round " << round;
    if (now > generation) {
      from[now] = rebuild_from;
      ++rebuilt;
    }
    check_generations(journal, from, round);
    if (HasFailure())
      return;
  }
  EXPECT_GE(rebuilt, kills / 2) << "few rebuilds were committed";
  // A last run without load: the last generation derives up to the end.
  {
    node_harness h(crash_settings(dir.path().string()));
    storage::journal_reader reader(journal);
    const uint64_t head = reader.head();
    ASSERT_TRUE(h.eventually(
      [&] {
        uint64_t position = 0;
        h.self->request(h.node.processors, 10s, actors::status_atom_v, std::string("mentions"))
          .receive([&](const actors::processor_status& s) { position = s.position; },
                   [&](const caf::error&) {});
        return position >= head;
      },
      120s));
  }
  auto c = check_generations(journal, from, kills);
  EXPECT_GT(c.messages, 500u);
  EXPECT_GT(c.derived, c.messages);
}

} // namespace
} // namespace herald::test
