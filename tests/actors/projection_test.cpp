// Projections (invariant 3): the chat demo's tables equal an independent
// fold of the journal; rebuilds equal incremental application, from zero or
// from a snapshot (damaged snapshots skipped); a faulted projection leaves
// others running; operators can retry and skip; a damaged read model faults
// its projection, not the node; a temporary fault heals by itself.
#include "tests/actors/chat_fold.hpp"
#include "tests/actors/node_fixture.hpp"
#include "tests/support/log_capture.hpp"

#include "actors/errors.hpp"
#include "storage/read_model.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace herald::test {
namespace {

config::settings chat_settings(const temp_dir& dir) {
  auto s = demo_settings(dir);
  s.projections.apply_batch = 100; // many pages: exercises catch-up
  s.projections.snapshot_every_events = 0;
  s.projections.snapshot_every = config::duration(0);
  return s;
}

/// Random chat traffic: messages (some without author, with quotes and
/// unicode), other event types, a few streams outside chat.
uint64_t chat_traffic(node_harness& h, int n, unsigned seed) {
  std::mt19937 rng(seed);
  const char* authors[] = {"ann", "bob", "chloé", "d\\\"q"};
  uint64_t last = 0;
  for (int i = 0; i < n; ++i) {
    std::string room = "chat:room" + std::to_string(rng() % 7);
    auto kind = rng() % 10;
    storage::append_result r;
    if (kind < 7)
      r = h.append(room, "message",
                   "{\"author\":\"" + std::string(authors[rng() % 4]) + "\",\"text\":\"hello "
                     + std::to_string(i) + " \\u263a\"}");
    else if (kind == 7)
      r = h.append(room, "message", "{\"text\":\"anonymous " + std::to_string(i) + "\"}");
    else if (kind == 8)
      r = h.append(room, "typing", "{\"author\":\"ann\"}");
    else
      r = h.append("news:" + std::to_string(rng() % 3), "message", "{\"text\":\"not chat\"}");
    last = r.last_position;
  }
  return last;
}

TEST(projection, chat_tables_equal_an_independent_fold) {
  temp_dir dir;
  node_harness h(chat_settings(dir));
  auto head = chat_traffic(h, 600, 1);
  EXPECT_EQ(h.caught_up("chat", head), head);
  auto file = h.projection_file("chat");
  EXPECT_EQ(checkpoint_of(file), head);
  auto tables = dump_tables(file);
  auto fold = chat_fold(h.journal_file(), head);
  EXPECT_EQ(tables["rooms"], fold["rooms"]);
  EXPECT_EQ(tables["messages"], fold["messages"]);
  EXPECT_EQ(fold["rooms"].size(), 7u);
  auto status = h.status("chat");
  EXPECT_EQ(status.status, "running");
  EXPECT_EQ(status.position, head);
  EXPECT_EQ(status.lag, 0u);
}

TEST(projection, a_restarted_node_catches_up_from_its_checkpoint) {
  temp_dir dir;
  uint64_t first = 0;
  {
    node_harness h(chat_settings(dir));
    first = chat_traffic(h, 200, 2);
    h.caught_up("chat", first);
  }
  // Events appended while the projection is away (its own file untouched).
  {
    auto s = chat_settings(dir);
    s.projection_defs.clear();
    s.query_defs.clear();
    s.processor_defs.clear(); // the mentions processor reads a projection
    node_harness h(s);
    chat_traffic(h, 300, 3);
  }
  node_harness h(chat_settings(dir));
  auto head = h.append("chat:late", "message", "{\"text\":\"x\"}").last_position;
  EXPECT_EQ(h.caught_up("chat", head), head);
  auto stats = h.projection_stats("chat");
  EXPECT_EQ(stats.figures["applied"], static_cast<int64_t>(head - first));
  EXPECT_EQ(dump_tables(h.projection_file("chat")), chat_fold(h.journal_file(), head));
}

/// Asks for a rebuild and waits until it has been swapped in.
void rebuild(node_harness& h, const std::string& name) {
  h.self->request(h.node.projections, 10s, actors::rebuild_atom_v, name)
    .receive([](const actors::projection_status& s) { EXPECT_EQ(s.status, "rebuilding"); },
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  ASSERT_TRUE(h.eventually([&] { return h.status(name).status != "rebuilding"; }));
}

TEST(projection, rebuild_equals_incremental) {
  temp_dir dir;
  node_harness h(chat_settings(dir));
  auto head = chat_traffic(h, 500, 4);
  h.caught_up("chat", head);
  auto before = h.projection_file("chat");
  auto incremental = dump_tables(before);
  auto builds = h.projection_stats("chat").figures["rebuilds"]; // the first build counts
  rebuild(h, "chat");
  auto after = h.projection_file("chat");
  EXPECT_NE(after, before); // a new generation, swapped in
  EXPECT_EQ(checkpoint_of(after), head);
  EXPECT_EQ(dump_tables(after), incremental);
  auto stats = h.projection_stats("chat");
  EXPECT_EQ(stats.figures["rebuilds"], builds + 1);
  EXPECT_EQ(stats.figures["rebuilt_from"], 0);
}

TEST(projection, a_rebuild_keeps_up_with_new_writes) {
  temp_dir dir;
  node_harness h(chat_settings(dir));
  chat_traffic(h, 400, 5);
  h.self->send(h.node.projections, actors::rebuild_atom_v, std::string("chat"));
  auto head = chat_traffic(h, 200, 6);
  ASSERT_TRUE(h.eventually([&] { return h.status("chat").status != "rebuilding"; }));
  h.caught_up("chat", head);
  EXPECT_EQ(dump_tables(h.projection_file("chat")), chat_fold(h.journal_file(), head));
}

uint64_t snapshot(node_harness& h, const std::string& name) {
  uint64_t pos = 0;
  h.self->request(h.node.projections, 10s, actors::snapshot_atom_v, name)
    .receive([&](storage::journal_position p) { pos = p.value; },
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  return pos;
}

TEST(projection, rebuild_from_a_snapshot_equals_rebuild_from_zero) {
  temp_dir dir;
  node_harness h(chat_settings(dir));
  auto mid = chat_traffic(h, 300, 7);
  h.caught_up("chat", mid);
  EXPECT_EQ(snapshot(h, "chat"), mid);
  storage::projection_dir pdir(dir.path().string(), "chat");
  ASSERT_EQ(pdir.snapshots().size(), 1u);
  auto head = chat_traffic(h, 300, 8);
  h.caught_up("chat", head);
  rebuild(h, "chat");
  EXPECT_EQ(h.projection_stats("chat").figures["rebuilt_from"], static_cast<int64_t>(mid));
  auto from_snapshot = dump_tables(h.projection_file("chat"));
  for (const auto& snap : pdir.snapshots())
    storage::projection_dir::remove_database(snap.path);
  rebuild(h, "chat");
  EXPECT_EQ(h.projection_stats("chat").figures["rebuilt_from"], 0);
  auto from_zero = dump_tables(h.projection_file("chat"));
  EXPECT_EQ(from_snapshot, from_zero);
  EXPECT_EQ(from_zero, chat_fold(h.journal_file(), head));
}

TEST(projection, a_damaged_snapshot_is_skipped_for_an_older_one) {
  temp_dir dir;
  node_harness h(chat_settings(dir));
  auto first = chat_traffic(h, 200, 9);
  h.caught_up("chat", first);
  snapshot(h, "chat");
  auto second = chat_traffic(h, 200, 10);
  h.caught_up("chat", second);
  snapshot(h, "chat");
  auto head = chat_traffic(h, 100, 11);
  h.caught_up("chat", head);
  storage::projection_dir pdir(dir.path().string(), "chat");
  auto snaps = pdir.snapshots();
  ASSERT_EQ(snaps.size(), 2u);
  ASSERT_EQ(snaps[0].number, second);
  {
    // Garble the newest snapshot past its header.
    std::fstream f(snaps[0].path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096);
    std::string junk(8192, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  rebuild(h, "chat");
  EXPECT_EQ(h.projection_stats("chat").figures["rebuilt_from"], static_cast<int64_t>(first));
  EXPECT_EQ(dump_tables(h.projection_file("chat")), chat_fold(h.journal_file(), head));
}

TEST(projection, snapshots_are_taken_every_n_events_and_the_last_k_kept) {
  temp_dir dir;
  auto s = chat_settings(dir);
  s.projections.snapshot_every_events = 100;
  s.projections.snapshot_keep = 2;
  s.projections.apply_batch = 50;
  node_harness h(s);
  uint64_t head = 0;
  for (int round = 0; round < 5; ++round) {
    head = chat_traffic(h, 120, 20 + round);
    h.caught_up("chat", head);
  }
  EXPECT_GE(h.projection_stats("chat").figures["snapshots"], 4);
  storage::projection_dir pdir(dir.path().string(), "chat");
  auto snaps = pdir.snapshots();
  ASSERT_EQ(snaps.size(), 2u);
  for (const auto& snap : snaps) {
    auto label = storage::read_label(snap.path, true);
    EXPECT_EQ(label.checkpoint, snap.number);
  }
}

/// Two projections over the same events; one refuses events whose data has
/// "bad": true (a CHECK constraint), the other counts everything.
config::settings two_projections(const temp_dir& dir) {
  auto s = chat_settings(dir);
  s.projection_defs.clear();
  s.query_defs.clear();
  s.processor_defs.clear(); // the mentions processor reads a projection
  config::projection_def good{"good", "CREATE TABLE n (k TEXT PRIMARY KEY, c INTEGER);", {}, 1, {}};
  good.handlers.push_back({"",
                           {},
                           "INSERT INTO n VALUES ('all', 1) "
                           "ON CONFLICT (k) DO UPDATE SET c = c + 1",
                           2,
                           false,
                           {}});
  config::projection_def picky{
    "picky", "CREATE TABLE v (p INTEGER PRIMARY KEY, ok INTEGER CHECK (ok = 1));", {}, 3, {}};
  picky.handlers.push_back({"",
                            {},
                            "INSERT INTO v VALUES (:position, "
                            "CASE WHEN json_extract(:data, '$.bad') THEN 0 ELSE 1 END)",
                            4,
                            false,
                            {}});
  s.projection_defs = {good, picky};
  return s;
}

TEST(projection, a_faulted_projection_leaves_others_running) {
  temp_dir dir;
  node_harness h(two_projections(dir));
  for (int i = 0; i < 10; ++i)
    h.append("s", "t", "{\"n\":" + std::to_string(i) + "}");
  auto bad = h.append("s", "t", "{\"bad\":true}").last_position;
  uint64_t head = 0;
  for (int i = 0; i < 10; ++i)
    head = h.append("s", "t", "{}").last_position;
  EXPECT_EQ(h.caught_up("good", head), head);
  // Faulted at once; its lag counts what it has heard of, so wait for the
  // last commit's notice to reach it too.
  ASSERT_TRUE(h.eventually([&] {
    auto s = h.status("picky");
    return s.status == "faulted" && s.lag == head - (bad - 1);
  }));
  auto status = h.status("picky");
  EXPECT_EQ(status.faulted_position, bad);
  EXPECT_EQ(status.position, bad - 1); // everything before it applied
  EXPECT_EQ(status.lag, head - (bad - 1));
  EXPECT_NE(status.error.find("CHECK constraint failed"), std::string::npos) << status.error;
  EXPECT_NE(status.error.find("event " + std::to_string(bad)), std::string::npos);
  // The good one goes on with new events while the other is faulted.
  auto later = h.append("s", "t", "{}").last_position;
  EXPECT_EQ(h.caught_up("good", later), later);
  // Retry fails the same way; skip steps over the poison event.
  h.self->request(h.node.projections, 10s, actors::retry_atom_v, std::string("picky"))
    .receive([](const actors::projection_status&) {}, [](const caf::error&) {});
  ASSERT_TRUE(h.eventually([&] { return h.status("picky").status == "faulted"; }));
  EXPECT_EQ(h.status("picky").faulted_position, bad);
  h.self->request(h.node.projections, 10s, actors::skip_atom_v, std::string("picky"))
    .receive([](const actors::projection_status&) {},
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  EXPECT_EQ(h.caught_up("picky", later), later);
  auto tables = dump_tables(h.projection_file("picky"));
  EXPECT_EQ(tables["v"].size(), later - 1); // all but the skipped one
}

/// Overwrites `path` from byte `from` to its end with random bytes.
void garble(const std::string& path, size_t from, unsigned seed) {
  auto size = static_cast<size_t>(std::filesystem::file_size(path));
  ASSERT_GT(size, from);
  std::mt19937 rng(seed);
  std::string junk(size - from, '\0');
  for (auto& c : junk)
    c = static_cast<char>(rng());
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(from));
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

/// What a query over the chat read model answers: rows, or the error code
/// and its message.
std::pair<std::optional<actors::errc>, std::string> query_rooms(node_harness& h) {
  std::pair<std::optional<actors::errc>, std::string> out;
  h.self
    ->request(h.node.queries, 10s, actors::query_atom_v,
              actors::query_request{"rooms", std::map<std::string, std::string>{}})
    .receive([&](const actors::query_result& r) { out.second = r.rows_json; },
             [&](const caf::error& e) {
               out.first = actors::code_of(e);
               out.second = actors::message_of(e);
             });
  return out;
}

/// The chat demo's node after some traffic and a clean stop; returns the
/// head and the (only) read model file, checkpointed, without its WAL.
std::pair<uint64_t, std::string> stopped_chat_node(const temp_dir& dir, unsigned seed) {
  node_harness h(chat_settings(dir));
  auto head = chat_traffic(h, 300, seed);
  EXPECT_EQ(h.caught_up("chat", head), head);
  return {head, h.projection_file("chat")};
}

void expect_damage_reported(const actors::projection_status& s) {
  EXPECT_EQ(s.status, "faulted");
  EXPECT_NE(s.error.find("malformed"), std::string::npos) << s.error;
  EXPECT_NE(s.error.find("rebuild the projection"), std::string::npos) << s.error;
}

/// After a rebuild the projection runs again and equals the fold.
void expect_rebuild_repairs(node_harness& h, uint64_t head) {
  h.self->request(h.node.projections, 10s, actors::rebuild_atom_v, std::string("chat"))
    .receive([](const actors::projection_status&) {},
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  ASSERT_TRUE(h.eventually([&] { return h.status("chat").status == "running"; }));
  EXPECT_EQ(h.caught_up("chat", head), head);
  auto s = h.status("chat");
  EXPECT_EQ(s.faulted_position, 0u);
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(dump_tables(h.projection_file("chat")), chat_fold(h.journal_file(), head));
  EXPECT_FALSE(query_rooms(h).first.has_value());
}

// A read model damaged where the file starts (its schema): the projection is
// faulted when it opens, saying what to do; the node runs, the journal takes
// appends, queries over that model get a temporary error; a rebuild repairs it.
TEST(projection, a_damaged_read_model_faults_its_projection_when_opened) {
  temp_dir dir;
  auto [head, file] = stopped_chat_node(dir, 11);
  ASSERT_FALSE(std::filesystem::exists(file + "-wal"));
  garble(file, 100, 1); // all but SQLite's 100-byte header
  node_harness h(chat_settings(dir));
  ASSERT_TRUE(h.eventually([&] { return h.status("chat").status == "faulted"; }));
  expect_damage_reported(h.status("chat"));
  auto later = h.append("chat:after", "message", "{\"text\":\"still writable\"}");
  EXPECT_EQ(later.status, storage::append_status::ok);
  EXPECT_EQ(later.last_position, head + 1);
  auto q = query_rooms(h);
  ASSERT_TRUE(q.first.has_value());
  EXPECT_TRUE(actors::is_temporary(*q.first));
  EXPECT_NE(q.second.find("no usable read model"), std::string::npos) << q.second;
  expect_rebuild_repairs(h, head + 1);
}

// Damage past the tables' first pages is found when the projection next
// writes there: faulted at that event, everything before it kept.
TEST(projection, a_damaged_read_model_faults_its_projection_when_written) {
  temp_dir dir;
  auto [head, file] = stopped_chat_node(dir, 12);
  ASSERT_FALSE(std::filesystem::exists(file + "-wal"));
  garble(file, 2 * 4096, 2); // keeps the schema and _herald pages
  node_harness h(chat_settings(dir));
  EXPECT_EQ(h.status("chat").position, head);
  auto later = h.append("chat:room1", "message", "{\"text\":\"x\"}").last_position;
  ASSERT_TRUE(h.eventually([&] { return h.status("chat").status == "faulted"; }));
  auto s = h.status("chat");
  expect_damage_reported(s);
  EXPECT_EQ(s.faulted_position, later);
  EXPECT_EQ(s.position, head);
  expect_rebuild_repairs(h, later);
}

// The read model locked by someone else longer than the busy timeout: a
// temporary fault, retried on the projection's tick; once it applies again
// the fault is forgotten (no stale error or position in its status).
TEST(projection, a_temporary_fault_heals_by_itself) {
  temp_dir dir;
  auto s = chat_settings(dir);
  s.projections.snapshot_every = std::chrono::seconds(1); // ticks every second
  log_capture log;
  node_harness h(s);
  auto head = chat_traffic(h, 50, 13);
  ASSERT_EQ(h.caught_up("chat", head), head);
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(h.projection_file("chat").c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto later = h.append("chat:room1", "message", "{\"text\":\"x\"}").last_position;
  // Watched in the log: asking the projection would queue behind its wait.
  const std::string fault = "projection chat faulted at position " + std::to_string(later) + ": ";
  ASSERT_TRUE(h.eventually([&] { return log.count(fault) > 0; }, 20s)) << log.text();
  EXPECT_NE(log.text().find("database is locked"), std::string::npos) << log.text();
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  ASSERT_TRUE(h.eventually([&] {
    auto st = h.status("chat");
    return st.status == "running" && st.position >= later;
  }));
  auto healed = h.status("chat");
  EXPECT_EQ(healed.faulted_position, 0u);
  EXPECT_EQ(healed.error, "");
  EXPECT_EQ(dump_tables(h.projection_file("chat")), chat_fold(h.journal_file(), later));
}

// A projection whose directory cannot be read when it starts (here a file
// stands where the directory goes; a process out of file descriptors fails
// the same way) is faulted, not dead: it says why, and once the directory
// can be made it builds its read model by itself.
TEST(projection, a_directory_it_cannot_open_at_start_faults_it_until_it_can) {
  temp_dir dir;
  auto s = chat_settings(dir);
  s.projections.snapshot_every = std::chrono::seconds(1); // ticks every second
  auto in_the_way = dir.path() / "projections" / "chat";
  std::filesystem::create_directories(in_the_way.parent_path());
  std::ofstream(in_the_way) << "not a directory";
  node_harness h(s);
  auto head = h.append("chat:room1", "message", "{\"text\":\"x\"}").last_position;
  auto faulted = h.status("chat");
  EXPECT_EQ(faulted.status, "faulted");
  EXPECT_NE(faulted.error.find(in_the_way.string()), std::string::npos) << faulted.error;
  std::filesystem::remove(in_the_way);
  ASSERT_TRUE(h.eventually([&] {
    auto st = h.status("chat");
    return st.status == "running" && st.position >= head;
  }));
  EXPECT_EQ(dump_tables(h.projection_file("chat")), chat_fold(h.journal_file(), head));
}

/// Asks `name` to skip its faulted event (live or in a stopped rebuild).
void skip(node_harness& h, const std::string& name) {
  h.self->request(h.node.projections, 10s, actors::skip_atom_v, name)
    .receive([](const actors::projection_status&) {},
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
}

// A poison event (one client event a handler refuses) cannot wedge a
// projection: a rebuild stops at it (rebuild_faulted, the current generation
// goes on serving), skip moves the rebuild past it, it is swapped in, and
// later events apply.
TEST(projection, skip_gets_a_rebuild_past_a_poison_event) {
  temp_dir dir;
  node_harness h(two_projections(dir));
  for (int i = 0; i < 5; ++i)
    h.append("s", "t", "{}");
  auto bad = h.append("s", "t", "{\"bad\":true}").last_position;
  uint64_t head = 0;
  for (int i = 0; i < 5; ++i)
    head = h.append("s", "t", "{}").last_position;
  ASSERT_TRUE(h.eventually([&] { return h.status("picky").status == "faulted"; }));
  h.self->request(h.node.projections, 10s, actors::rebuild_atom_v, std::string("picky"))
    .receive([](const actors::projection_status&) {},
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  ASSERT_TRUE(h.eventually([&] { return h.status("picky").status == "rebuild_faulted"; }))
    << h.status("picky").status << ": " << h.status("picky").error;
  auto stopped = h.status("picky");
  EXPECT_EQ(stopped.faulted_position, bad);
  EXPECT_NE(stopped.error.find("CHECK constraint failed"), std::string::npos) << stopped.error;
  skip(h, "picky");
  ASSERT_TRUE(h.eventually([&] { return h.status("picky").status == "running"; }))
    << h.status("picky").status << ": " << h.status("picky").error;
  EXPECT_EQ(h.caught_up("picky", head), head);
  auto later = h.append("s", "t", "{}").last_position;
  EXPECT_EQ(h.caught_up("picky", later), later);
  auto done = h.status("picky");
  EXPECT_EQ(done.faulted_position, 0u);
  EXPECT_EQ(done.error, "");
  EXPECT_EQ(dump_tables(h.projection_file("picky"))["v"].size(), later - 1); // all but the poison
  EXPECT_EQ(h.projection_stats("picky").figures["rebuilds"], 2); // first build + this one
}

// A rebuild cut short by a stop is not forgotten: the restarted projection
// serves its current generation and says rebuild_failed (with why) until
// the next rebuild.
TEST(projection, an_interrupted_rebuild_has_a_status_of_its_own) {
  temp_dir dir;
  auto [head, file] = stopped_chat_node(dir, 14);
  storage::projection_dir pdir(dir.path().string(), "chat");
  auto left = pdir.build_path(pdir.generations().back().number + 1);
  std::filesystem::copy_file(file, left); // what a stop during a rebuild leaves
  node_harness h(chat_settings(dir));
  auto s = h.status("chat");
  EXPECT_EQ(s.status, "rebuild_failed");
  EXPECT_NE(s.error.find("rebuild abandoned"), std::string::npos) << s.error;
  EXPECT_EQ(s.position, head);
  EXPECT_FALSE(std::filesystem::exists(left));
  EXPECT_FALSE(query_rooms(h).first.has_value()); // queries still served
  expect_rebuild_repairs(h, head);
}

// $chat:x and chat:x are different rooms: the private one stays out of the
// chat projection (its handlers do not ask for private channels), which
// stays running, and its public query shows only public text.
TEST(projection, a_private_channel_neither_wedges_nor_leaks_into_the_chat_projection) {
  temp_dir dir;
  node_harness h(chat_settings(dir));
  h.append("$chat:lobby", "message", "{\"author\":\"eve\",\"text\":\"private\"}");
  auto head =
    h.append("chat:lobby", "message", "{\"author\":\"ann\",\"text\":\"public\"}").last_position;
  EXPECT_EQ(h.caught_up("chat", head), head);
  EXPECT_EQ(h.status("chat").status, "running");
  std::string rows;
  h.self
    ->request(h.node.queries, 10s, actors::query_atom_v,
              actors::query_request{"messages", {{"room", "lobby"}}})
    .receive([&](const actors::query_result& r) { rows = r.rows_json; },
             [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
  EXPECT_NE(rows.find("public"), std::string::npos) << rows;
  EXPECT_EQ(rows.find("private"), std::string::npos) << rows;
  EXPECT_EQ(dump_tables(h.projection_file("chat")), chat_fold(h.journal_file(), head));
}

TEST(projection, unknown_projections_are_not_found) {
  temp_dir dir;
  node_harness h(chat_settings(dir));
  h.self->request(h.node.projections, 10s, actors::status_atom_v, std::string("nope"))
    .receive([](const actors::projection_status&) { ADD_FAILURE() << "found"; },
             [](const caf::error& e) { EXPECT_EQ(actors::code_of(e), actors::errc::not_found); });
  h.self->request(h.node.projections, 10s, actors::status_atom_v)
    .receive(
      [](const std::vector<actors::projection_status>& all) {
        ASSERT_EQ(all.size(), 2u); // the default's chat and users
        EXPECT_EQ(all[0].name, "chat");
        EXPECT_EQ(all[1].name, "users");
      },
      [&](const caf::error& e) { ADD_FAILURE() << h.sys.render(e); });
}

TEST(projection, definitions_that_do_not_compile_fail_at_start_with_their_line) {
  auto s = config::parse_toml(R"toml([[projection]]
name = "p"
schema = "CREATE TABLE t (a INTEGER);"
[[projection.handler]]
sql = "INSERT INTO t VALUES (:nosuchfield)"
)toml",
                              "h.toml");
  try {
    actors::validate_definitions(s);
    FAIL() << "accepted";
  } catch (const config::config_error& e) {
    EXPECT_NE(std::string(e.what()).find("h.toml:4:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unknown parameter :nosuchfield"), std::string::npos)
      << e.what();
  }
  s.projection_defs[0].handlers[0].sql = "INSERT INTO nosuchtable VALUES (1)";
  EXPECT_THROW(actors::validate_definitions(s), config::config_error);
  s.projection_defs[0].handlers[0].sql = "INSERT INTO t VALUES (:version)";
  s.query_defs.push_back({"q", "p", "SELECT a FROM t WHERE a = :x", {}, true, 9, {}});
  try {
    actors::validate_definitions(s);
    FAIL() << "accepted an undeclared query parameter";
  } catch (const config::config_error& e) {
    EXPECT_NE(std::string(e.what()).find("h.toml:9:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(":x"), std::string::npos) << e.what();
  }
  s.query_defs[0].sql = "DELETE FROM t";
  EXPECT_THROW(actors::validate_definitions(s), config::config_error);
  s.query_defs[0].sql = "SELECT a FROM t";
  EXPECT_NO_THROW(actors::validate_definitions(s));
}

// `private` on a handler: a boolean, read into the definition; anything
// else is one clear config error with its line.
TEST(projection, a_handler_asks_for_private_channels_with_a_boolean) {
  const std::string head = R"toml([[projection]]
name = "p"
schema = "CREATE TABLE t (a TEXT);"
[[projection.handler]]
sql = "INSERT INTO t VALUES (:name)"
)toml";
  EXPECT_FALSE(config::parse_toml(head, "h.toml").projection_defs[0].handlers[0].include_private);
  EXPECT_TRUE(config::parse_toml(head + "private = true\n", "h.toml")
                .projection_defs[0]
                .handlers[0]
                .include_private);
  try {
    config::parse_toml(head + "private = \"yes\"\n", "h.toml");
    FAIL() << "accepted a string";
  } catch (const config::config_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "h.toml:6: projection.p.handler.private: expected true or false");
  }
}

} // namespace
} // namespace herald::test
