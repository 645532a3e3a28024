// Exactly once under kill -9: a child process runs the default node (the
// mentions processor over chat messages, waiting on the users projection)
// while it appends messages that mention one to three users as fast as it
// can; the parent kills it with SIGKILL at random moments. After each kill
// the journal must hold, for every message up to the processor's
// checkpoint, exactly one derived event per mentioned name (none missing,
// none twice), and none for messages past it. The next child resumes there.
#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"
#include "tests/actors/node_fixture.hpp"

#include <rapidjson/document.h>

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

[[noreturn]] void run_child(const std::string& dir, unsigned seed) {
  node_harness h(crash_settings(dir));
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

} // namespace
} // namespace herald::test
