#include "actors/query_actor.hpp"

#include "actors/counters.hpp"
#include "actors/errors.hpp"
#include "storage/msgpack_json.hpp"
#include "storage/query_runner.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

namespace herald::actors {

namespace {

struct worker_state {
  static inline const char* name = "query";
  std::map<std::string, config::query_def> queries;
  config::query_settings settings;
  std::map<std::string, std::string> files; ///< projection -> current path
  std::set<std::string> faulted;            ///< projections whose file is stale
  std::map<std::string, std::unique_ptr<storage::query_runner>> runners;
  counters stats;
  uint64_t answered = 0;
  uint64_t failed = 0;
  uint64_t timeouts = 0;
};

void append_json_value(std::string& out, const storage::column_value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    out += std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) { // JSON has no NaN or infinity
      out += "null";
      return;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    out += buf;
  } else if (const auto* text = std::get_if<std::string>(&v)) {
    storage::append_json_string(out, *text);
  } else if (const auto* bytes = std::get_if<storage::blob>(&v)) {
    storage::append_json_string(out, bytes->bytes);
  } else {
    out += "null";
  }
}

/// The rows as REST returns them: [{"column":value,...},...].
std::string rows_json(const storage::query_rows& q) {
  std::string out = "[";
  for (size_t r = 0; r < q.rows.size(); ++r) {
    out += r ? ",{" : "{";
    for (size_t c = 0; c < q.columns.size(); ++c) {
      if (c)
        out += ',';
      storage::append_json_string(out, q.columns[c]);
      out += ':';
      append_json_value(out, q.rows[r][c]);
    }
    out += '}';
  }
  out += ']';
  return out;
}

caf::error to_error(const storage::query_error& e) {
  using kind = storage::query_error::kind;
  switch (e.what) {
    case kind::bad_request:
      return caf::make_error(errc::bad_request, e.message);
    case kind::timeout:
      return caf::make_error(errc::timeout, e.message);
    case kind::damaged:
      return caf::make_error(errc::damaged, e.message);
    case kind::unavailable:
      break;
  }
  return caf::make_error(errc::unavailable, e.message);
}

query_actor::behavior_type worker_impl(query_actor::stateful_pointer<worker_state> self,
                                       config::settings s) {
  for (const auto& q : s.query_defs)
    self->state.queries[q.name] = q;
  self->state.settings = s.queries;
  return {
    [self](query_atom, const query_request& req) -> caf::result<query_result> {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self);
      auto q = st.queries.find(req.name);
      if (q == st.queries.end())
        return caf::make_error(errc::not_found, "no query named \"" + req.name + "\"");
      const auto& def = q->second;
      auto file = st.files.find(def.projection);
      if (file == st.files.end())
        return caf::make_error(errc::unavailable,
                               "projection " + def.projection
                                 + " has no usable read model (being built, or faulted)");
      try {
        auto& runner = st.runners[def.projection];
        if (!runner || runner->path() != file->second)
          runner = std::make_unique<storage::query_runner>(file->second);
        auto out =
          runner->run(def, req.params, static_cast<size_t>(st.settings.row_limit),
                      std::chrono::duration_cast<std::chrono::milliseconds>(st.settings.timeout));
        if (!out) {
          ++st.failed;
          st.timeouts += out.error().what == storage::query_error::kind::timeout;
          return to_error(out.error());
        }
        ++st.answered;
        return query_result{rows_json(*out), out->rows.size(), out->position, out->truncated,
                            st.faulted.count(def.projection) ? "faulted" : "running"};
      } catch (const storage::failure& f) {
        ++st.failed;
        st.runners.erase(def.projection);
        return from_failure(f);
      }
    },
    [self](file_atom, const std::string& projection, const std::string& path) {
      auto scope = self->state.stats.measure();
      self->state.files[projection] = path;
      self->state.runners.erase(projection); // reopened on the next query
    },
    [self](file_status_atom, const std::string& projection, const std::string& status) {
      auto scope = self->state.stats.measure();
      if (status == "faulted")
        self->state.faulted.insert(projection);
      else
        self->state.faulted.erase(projection);
    },
    [self](stats_atom) -> actor_stats {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self, true);
      auto s = st.stats.stats("query", "query");
      s.figures = {{"answered", static_cast<int64_t>(st.answered)},
                   {"failed", static_cast<int64_t>(st.failed)},
                   {"timeouts", static_cast<int64_t>(st.timeouts)}};
      return s;
    },
  };
}

struct pool_state {
  static inline const char* name = "queries";
  std::vector<query_actor> workers;
  size_t next = 0;
  counters stats;
};

query_actor::behavior_type pool_impl(query_actor::stateful_pointer<pool_state> self,
                                     std::vector<query_actor> workers) {
  self->state.workers = std::move(workers);
  for (auto& w : self->state.workers)
    self->link_to(w);
  return {
    [self](query_atom a, query_request& req) {
      auto& st = self->state;
      auto scope = st.stats.measure();
      return self->delegate(st.workers[st.next++ % st.workers.size()], a, std::move(req));
    },
    [self](file_atom a, const std::string& projection, const std::string& path) {
      auto scope = self->state.stats.measure();
      for (auto& w : self->state.workers)
        self->send(w, a, projection, path);
    },
    [self](file_status_atom a, const std::string& projection, const std::string& status) {
      auto scope = self->state.stats.measure();
      for (auto& w : self->state.workers)
        self->send(w, a, projection, status);
    },
    [self](stats_atom) -> actor_stats {
      auto scope = self->state.stats.measure();
      self->state.stats.sample(self, true);
      auto s = self->state.stats.stats("queries", "query-pool");
      s.figures = {{"workers", static_cast<int64_t>(self->state.workers.size())}};
      return s;
    },
  };
}

} // namespace

query_actor spawn_query_pool(caf::actor_system& sys, const config::settings& s) {
  std::vector<query_actor> workers;
  for (int64_t i = 0; i < std::max<int64_t>(s.queries.pool, 1); ++i)
    workers.push_back(sys.spawn<caf::detached>(worker_impl, s));
  return sys.spawn(pool_impl, std::move(workers));
}

} // namespace herald::actors
