// A stream processor in a running node: derived events land on their
// channel's stream with lineage; a row naming a channel the processor may
// not write faults it at that source event with nothing of the event
// written, and skip steps over it (recorded in the journal's checkpoint).
#include "actors/errors.hpp"
#include "storage/event_meta.hpp"
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

} // namespace
} // namespace herald::test
