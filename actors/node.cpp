#include "actors/node.hpp"

#include "config/loader.hpp"
#include "storage/journal.hpp"
#include "storage/processor_sql.hpp"
#include "storage/query_runner.hpp"
#include "storage/read_model.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <filesystem>

namespace herald::actors {

std::string journal_path(const config::settings& s) {
  return (std::filesystem::path(s.server.data_dir) / "journal.db").string();
}

void validate_definitions(const config::settings& s) {
  auto fail = [&](int line, const std::string& what) {
    throw config::config_error(s.source + (line > 0 ? ":" + std::to_string(line) : "") + ": "
                               + what);
  };
  for (const auto& p : s.projection_defs) {
    int line = 0;
    if (auto problem = storage::read_model::validate(p, line); !problem.empty())
      fail(line, problem);
  }
  for (const auto& q : s.query_defs) {
    const config::projection_def* projection = nullptr;
    for (const auto& p : s.projection_defs)
      if (p.name == q.projection)
        projection = &p;
    if (!projection)
      fail(q.line, "query " + q.name + ": no projection named " + q.projection);
    if (auto problem = storage::query_runner::validate(q, *projection); !problem.empty())
      fail(q.line, problem);
  }
  for (const auto& p : s.processor_defs)
    if (auto problem = storage::processor_statement::validate(p, s.projection_defs);
        !problem.empty())
      fail(p.sql_at.line, problem);
}

node start_node(caf::actor_system& sys, const config::settings& s) {
  validate_definitions(s);
  std::filesystem::create_directories(s.server.data_dir);
  storage::journal_options jo;
  jo.path = journal_path(s);
  jo.durability = s.journal.mode;
  jo.stream_cache = static_cast<size_t>(s.journal.stream_cache);
  jo.id_fold_events = static_cast<uint64_t>(s.journal.id_fold_events);
  jo.verify_on_open = s.journal.verify_on_open;
  jo.background_checkpoints = true;
  auto journal = std::make_shared<storage::journal>(jo);
  node n;
  n.journal_id = journal->id();
  n.epoch = epoch_of(n.journal_id);
  const storage::journal_position head{journal->head()};
  n.journal = spawn_journal(sys, journal, s.journal);
  n.readers = spawn_readers(sys, jo.path, static_cast<size_t>(s.journal.readers));
  n.checkpointer = spawn_checkpointer(
    sys, jo.path,
    std::chrono::duration_cast<std::chrono::milliseconds>(s.journal.checkpoint_every));
  n.channels = spawn_channel_registry(sys, s, n.readers, n.journal_id, head);
  caf::anon_send(n.journal, listen_atom_v, caf::actor_cast<batch_listener>(n.channels));
  n.queries = spawn_query_pool(sys, s);
  // Processors first: projections tell them where their read models are.
  auto shared_settings = std::make_shared<const config::settings>(s);
  std::vector<std::pair<std::string, processor_actor>> processors;
  for (const auto& def : s.processor_defs) {
    processor_options o;
    o.def = def;
    o.settings = shared_settings;
    o.journal_path = jo.path;
    o.journal = caf::actor_cast<caf::actor>(n.journal);
    auto p = spawn_processor(sys, std::move(o));
    caf::anon_send(n.journal, listen_atom_v, caf::actor_cast<batch_listener>(p));
    processors.emplace_back(def.name, std::move(p));
  }
  std::vector<std::pair<std::string, projection_actor>> projections;
  for (const auto& def : s.projection_defs) {
    projection_options o;
    o.def = def;
    o.settings = s.projections;
    o.data_dir = s.server.data_dir;
    o.journal_path = jo.path;
    o.file_listeners.push_back(caf::actor_cast<file_listener>(n.queries));
    for (const auto& [name, p] : processors)
      for (const auto& pd : s.processor_defs)
        if (pd.name == name
            && std::find(pd.read_models.begin(), pd.read_models.end(), def.name)
                 != pd.read_models.end())
          o.file_listeners.push_back(caf::actor_cast<file_listener>(p));
    auto p = spawn_projection(sys, std::move(o));
    caf::anon_send(n.journal, listen_atom_v, caf::actor_cast<batch_listener>(p));
    projections.emplace_back(def.name, std::move(p));
  }
  n.projections = spawn_projection_manager(sys, std::move(projections));
  for (const auto& [name, p] : processors)
    caf::anon_send(p, wait_for_atom_v, caf::actor_cast<caf::actor>(n.projections));
  n.processors = spawn_processor_manager(sys, std::move(processors));
  return n;
}

void stop_node(node& n) {
  for (auto handle :
       {caf::actor_cast<caf::actor>(n.processors), caf::actor_cast<caf::actor>(n.projections),
        caf::actor_cast<caf::actor>(n.queries), caf::actor_cast<caf::actor>(n.channels),
        caf::actor_cast<caf::actor>(n.readers), caf::actor_cast<caf::actor>(n.checkpointer),
        caf::actor_cast<caf::actor>(n.journal)})
    caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
}

} // namespace herald::actors
