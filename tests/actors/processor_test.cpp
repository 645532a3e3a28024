// A stream processor in a running node: derived events land on their
// channel's stream with lineage; a row naming a channel the processor may
// not write faults it at that source event with nothing of the event
// written, and skip steps over it (recorded in the journal's checkpoint); a
// rebuild from a position derives again from there, once, as generation + 1.
#include "actors/errors.hpp"
#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"
#include "storage/processor_sql.hpp"
#include "tests/actors/node_fixture.hpp"

namespace herald::test {
namespace {

config::settings echo_settings(const temp_dir& dir) {
  auto s = demo_settings(dir);
  s.processors.retry_every = config::duration(20);
  s.namespaces["echo"].writers = {"echo"};
  config::processor_def p;
  p.name = "echo";
  p.namespaces = {"chat"};
  p.types = {"message"};
  // 'poison' names a channel of chat, which does not list the processor.
  p.sql = "SELECT CASE WHEN e.data ->> '$.text' = 'poison' THEN 'chat:' || e.name "
          "ELSE 'echo:' || e.name END AS channel, e.data AS data, e.position AS source_position "
          "FROM events AS e ORDER BY e.position";
  s.processor_defs.push_back(p);
  return s;
}

actors::processor_status status_of(node_harness& h) {
  actors::processor_status out;
  h.self->request(h.node.processors, 10s, actors::status_atom_v, std::string("echo"))
    .receive([&](const actors::processor_status& s) { out = s; },
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  return out;
}

std::vector<storage::recorded_event> stream_of(node_harness& h, const std::string& stream) {
  storage::journal_reader r(actors::journal_path(h.settings));
  return r.read_stream(stream, 1, storage::direction::forward, 100).events;
}

TEST(processor, a_forbidden_channel_faults_at_its_event_and_skip_steps_over_it) {
  temp_dir dir;
  node_harness h(echo_settings(dir));
  auto first = h.append("chat:r", "message", R"({"text":"one"})");
  auto poison = h.append("chat:r", "message", R"({"text":"poison"})");
  auto third = h.append("chat:r", "message", R"({"text":"three"})");
  ASSERT_TRUE(h.eventually([&] { return status_of(h).status == "faulted"; }));
  auto s = status_of(h);
  EXPECT_EQ(s.faulted_position, poison.first_position);
  EXPECT_NE(s.error.find("does not list processor \"echo\""), std::string::npos) << s.error;
  // The event before the poison one was derived; nothing of it or after.
  auto echo = stream_of(h, "echo:r");
  ASSERT_EQ(echo.size(), 1u);
  EXPECT_EQ(storage::decode_meta(echo[0].meta).causation,
            stream_of(h, "chat:r").at(0).id); // lineage: the source event's id
  EXPECT_EQ(echo[0].id, "echo-" + std::to_string(first.first_position) + "-0");
  EXPECT_EQ(stream_of(h, "chat:r").size(), 3u);
  storage::journal_reader r(actors::journal_path(h.settings));
  EXPECT_EQ(r.processor_checkpoint("echo"), first.first_position);
  // Retry fails the same way; skip moves on.
  h.self->request(h.node.processors, 10s, actors::retry_atom_v, std::string("echo"))
    .receive([](const actors::processor_status&) {}, [](const caf::error&) {});
  ASSERT_TRUE(h.eventually([&] { return status_of(h).status == "faulted"; }));
  h.self->request(h.node.processors, 10s, actors::skip_atom_v, std::string("echo"))
    .receive([](const actors::processor_status&) {}, [](const caf::error&) {});
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() == 2; }));
  s = status_of(h);
  EXPECT_EQ(s.skipped, 1u);
  EXPECT_NE(s.status, "faulted");
  EXPECT_GE(r.processor_checkpoint("echo"), third.first_position);
  EXPECT_EQ(stream_of(h, "echo:r").at(1).version, 2u);
}

// websocket.max_data_bytes is the data limit of every append path, the
// processor's included: a derived event over it faults at its source event.
TEST(processor, derived_data_over_max_data_bytes_faults_at_its_event) {
  temp_dir dir;
  auto settings = echo_settings(dir);
  settings.websocket.max_data_bytes = 64;
  node_harness h(settings);
  auto first = h.append("chat:r", "message", R"({"text":"one"})");
  auto big = h.append("chat:r", "message", R"({"text":")" + std::string(100, 'x') + R"("})");
  ASSERT_TRUE(h.eventually([&] { return status_of(h).status == "faulted"; }));
  auto s = status_of(h);
  EXPECT_EQ(s.faulted_position, big.first_position);
  EXPECT_NE(s.error.find("max_data_bytes"), std::string::npos) << s.error;
  ASSERT_EQ(stream_of(h, "echo:r").size(), 1u);
  storage::journal_reader r(actors::journal_path(h.settings));
  EXPECT_EQ(r.processor_checkpoint("echo"), first.first_position);
}

// A user-limited channel's events reach only its listed users; derived
// events go to open channels, so a processor never reads them (nor private
// ones).
TEST(processor, private_and_user_limited_channels_never_feed_a_processor) {
  temp_dir dir;
  auto settings = echo_settings(dir);
  settings.namespaces["chat"].user_limited = true;
  node_harness h(settings);
  h.append("chat:r#alice,bob", "message", R"({"text":"for alice and bob"})");
  h.append("$chat:r", "message", R"({"text":"private"})");
  auto open = h.append("chat:r", "message", R"({"text":"open"})");
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() == 1; }));
  storage::journal_reader r(actors::journal_path(h.settings));
  ASSERT_TRUE(h.eventually([&] { return r.processor_checkpoint("echo") >= open.first_position; }));
  auto echo = stream_of(h, "echo:r");
  ASSERT_EQ(echo.size(), 1u);
  EXPECT_EQ(storage::decode_meta(echo[0].meta).causation, stream_of(h, "chat:r").at(0).id);
  EXPECT_TRUE(stream_of(h, "echo:r#alice,bob").empty());
}

TEST(processor, an_unknown_processor_is_not_found) {
  temp_dir dir;
  node_harness h(echo_settings(dir));
  bool not_found = false;
  h.self->request(h.node.processors, 10s, actors::status_atom_v, std::string("nope"))
    .receive(
      [](const actors::processor_status&) {},
      [&](const caf::error& e) { not_found = actors::code_of(e) == actors::errc::not_found; });
  EXPECT_TRUE(not_found);
}

/// Asks the node to rebuild `name` from `from`; the answer or the error.
struct rebuild_answer {
  std::optional<actors::processor_status> status;
  caf::error error;
};

rebuild_answer rebuild(node_harness& h, uint64_t from, const std::string& name = "echo") {
  rebuild_answer out;
  h.self->request(h.node.processors, 10s, actors::rebuild_atom_v, name, from, std::string("test"))
    .receive([&](const actors::processor_status& s) { out.status = s; },
             [&](const caf::error& e) { out.error = e; });
  return out;
}

/// Whether the processor has handled everything the journal holds.
bool caught_up(node_harness& h) {
  auto s = status_of(h);
  storage::journal_reader r(actors::journal_path(h.settings));
  return s.status == "running" && s.position >= r.head();
}

std::string text_of(const storage::recorded_event& e) {
  std::string json;
  EXPECT_TRUE(storage::msgpack_to_json(e.data, json));
  return json;
}

// A rebuild from P: the events from P on are derived once more, as new events
// (new ids of generation 1, new versions), those before P not; then the
// processor goes on with generation 1.
TEST(processor, a_rebuild_derives_again_exactly_the_events_from_its_position_once) {
  temp_dir dir;
  node_harness h(echo_settings(dir));
  std::vector<storage::append_result> sources;
  for (const char* text : {"one", "two", "three", "four"})
    sources.push_back(h.append("chat:r", "message", std::string(R"({"text":")") + text + "\"}"));
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() == 4 && caught_up(h); }));
  const uint64_t from = sources[2].first_position;
  auto answer = rebuild(h, from);
  ASSERT_TRUE(answer.status) << h.sys.render(answer.error);
  EXPECT_EQ(answer.status->generation, 1u);
  EXPECT_EQ(answer.status->rebuilds, 1u);
  // Answered once the journal holds it.
  storage::journal_reader r(actors::journal_path(h.settings));
  EXPECT_EQ(r.processor_generation("echo"), 1u);
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() >= 6 && caught_up(h); }));
  auto after = h.append("chat:r", "message", R"({"text":"five"})");
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() >= 7 && caught_up(h); }));
  auto echo = stream_of(h, "echo:r");
  auto chat = stream_of(h, "chat:r");
  ASSERT_EQ(echo.size(), 7u);
  const std::vector<std::pair<uint64_t, size_t>> expected = {// generation, source index
                                                             {0, 0}, {0, 1}, {0, 2}, {0, 3},
                                                             {1, 2}, {1, 3}, {1, 4}};
  for (size_t i = 0; i < echo.size(); ++i) {
    const auto [generation, source] = expected[i];
    const auto& e = echo[i];
    EXPECT_EQ(e.version, i + 1);
    const uint64_t at = source < 4 ? sources[source].first_position : after.first_position;
    EXPECT_EQ(e.id, storage::derived_event_id("echo", generation, at, 0)) << i;
    auto meta = storage::decode_meta(e.meta);
    EXPECT_EQ(meta.generation, generation) << i;
    EXPECT_EQ(meta.causation, chat.at(source).id) << i;
    EXPECT_EQ(text_of(e), text_of(chat.at(source))) << i;
  }
  EXPECT_EQ(echo[4].id, "echo-g1-" + std::to_string(from) + "-0");
  auto s = status_of(h);
  EXPECT_EQ(s.generation, 1u);
  EXPECT_EQ(s.rebuilds, 1u);
  EXPECT_EQ(r.processor_generation("echo"), 1u);
}

// A faulted processor is un-faulted by a rebuild, which starts where asked.
TEST(processor, a_rebuild_un_faults_a_faulted_processor) {
  temp_dir dir;
  node_harness h(echo_settings(dir));
  h.append("chat:r", "message", R"({"text":"one"})");
  auto poison = h.append("chat:r", "message", R"({"text":"poison"})");
  auto third = h.append("chat:r", "message", R"({"text":"three"})");
  ASSERT_TRUE(h.eventually([&] { return status_of(h).status == "faulted"; }));
  auto answer = rebuild(h, poison.first_position + 1);
  ASSERT_TRUE(answer.status) << h.sys.render(answer.error);
  EXPECT_NE(answer.status->status, "faulted");
  EXPECT_EQ(answer.status->faulted_position, 0u);
  EXPECT_TRUE(answer.status->error.empty()) << answer.status->error;
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() == 2 && caught_up(h); }));
  auto echo = stream_of(h, "echo:r");
  EXPECT_EQ(echo[1].id, storage::derived_event_id("echo", 1, third.first_position, 0));
  EXPECT_EQ(status_of(h).skipped, 0u);
  // Rebuilt from before the poison event, it faults there again.
  answer = rebuild(h, poison.first_position);
  ASSERT_TRUE(answer.status) << h.sys.render(answer.error);
  ASSERT_TRUE(h.eventually([&] { return status_of(h).status == "faulted"; }));
  auto s = status_of(h);
  EXPECT_EQ(s.faulted_position, poison.first_position);
  EXPECT_EQ(s.generation, 2u);
  EXPECT_EQ(stream_of(h, "echo:r").size(), 2u);
}

// `from` is a position 1..head + 1; anything else changes nothing.
TEST(processor, a_rebuild_from_outside_the_log_is_a_bad_request) {
  temp_dir dir;
  node_harness h(echo_settings(dir));
  h.append("chat:r", "message", R"({"text":"one"})");
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() == 1 && caught_up(h); }));
  storage::journal_reader r(actors::journal_path(h.settings));
  const uint64_t head = r.head();
  for (uint64_t from : {uint64_t{0}, head + 2, uint64_t{1} << 62}) {
    auto answer = rebuild(h, from);
    EXPECT_FALSE(answer.status) << from;
    EXPECT_EQ(actors::code_of(answer.error), actors::errc::bad_request) << from;
    EXPECT_NE(actors::message_of(answer.error).find("from 1 to " + std::to_string(head + 1)),
              std::string::npos)
      << actors::message_of(answer.error);
  }
  EXPECT_EQ(actors::code_of(rebuild(h, 1, "nope").error), actors::errc::not_found);
  EXPECT_EQ(status_of(h).generation, 0u);
  EXPECT_EQ(r.processor_generation("echo"), 0u);
  // head + 1: only what comes next is derived (again).
  auto answer = rebuild(h, head + 1);
  ASSERT_TRUE(answer.status) << h.sys.render(answer.error);
  EXPECT_EQ(answer.status->position, head);
  auto next = h.append("chat:r", "message", R"({"text":"two"})");
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() == 2 && caught_up(h); }));
  EXPECT_EQ(stream_of(h, "echo:r").at(1).id,
            storage::derived_event_id("echo", 1, next.first_position, 0));
}

// Rebuilds asked for at once are committed one after the other; the last one
// decides what is derived from then on.
TEST(processor, rebuilds_asked_together_all_commit_in_turn) {
  temp_dir dir;
  node_harness h(echo_settings(dir));
  std::vector<storage::append_result> sources;
  for (int i = 0; i < 3; ++i)
    sources.push_back(h.append("chat:r", "message", R"({"text":"m)" + std::to_string(i) + "\"}"));
  ASSERT_TRUE(h.eventually([&] { return stream_of(h, "echo:r").size() == 3 && caught_up(h); }));
  auto first = h.self->request(h.node.processors, 10s, actors::rebuild_atom_v, std::string("echo"),
                               sources[0].first_position, std::string("test"));
  auto second = h.self->request(h.node.processors, 10s, actors::rebuild_atom_v, std::string("echo"),
                                sources[2].first_position, std::string("test"));
  uint64_t generations[2] = {0, 0};
  first.receive([&](const actors::processor_status& s) { generations[0] = s.generation; },
                [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  second.receive([&](const actors::processor_status& s) { generations[1] = s.generation; },
                 [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  EXPECT_EQ(generations[0], 1u);
  EXPECT_EQ(generations[1], 2u);
  ASSERT_TRUE(h.eventually([&] {
    auto echo = stream_of(h, "echo:r");
    return !echo.empty() && storage::decode_meta(echo.back().meta).generation == 2 && caught_up(h);
  }));
  // Generation 2 derived from the third source event on, once.
  size_t of_2 = 0;
  for (const auto& e : stream_of(h, "echo:r"))
    if (storage::decode_meta(e.meta).generation == 2) {
      ++of_2;
      EXPECT_EQ(e.id, storage::derived_event_id("echo", 2, sources[2].first_position, 0));
    }
  EXPECT_EQ(of_2, 1u);
}

} // namespace
} // namespace herald::test
