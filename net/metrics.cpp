#include "net/metrics.hpp"

#include "net/ask.hpp"
#include "net/ws_connection.hpp"

#include <cstdio>
#include <sstream>

namespace herald::net {

namespace {

using namespace std::chrono_literals;

void metric(std::ostringstream& out, const char* name, const char* type, const char* help,
            double value, const std::string& labels = "") {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << labels << ' ' << static_cast<int64_t>(value) << '\n';
}

int64_t figure(const actors::actor_stats& s, const char* key) {
  auto it = s.figures.find(key);
  return it == s.figures.end() ? 0 : it->second;
}

/// One line per processor of figure `key`, as metric `name`.
void per_processor(std::ostringstream& out, const char* name, const char* type, const char* help,
                   const std::vector<actors::actor_stats>& processors, const char* key,
                   double scale = 1) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  for (const auto& p : processors) {
    out << name << "{processor=\"" << p.name.substr(p.name.find(' ') + 1) << "\"} ";
    if (scale == 1)
      out << figure(p, key) << '\n';
    else
      out << std::to_string(static_cast<double>(figure(p, key)) * scale) << '\n';
  }
}

void processor_metrics(std::ostringstream& out,
                       const std::vector<actors::actor_stats>& processors) {
  per_processor(out, "herald_processor_batches_total", "counter",
                "Batches a stream processor ran its statement over.", processors, "batches");
  per_processor(out, "herald_processor_events_in_total", "counter",
                "Source events a stream processor's statement saw.", processors, "events_in");
  per_processor(out, "herald_processor_events_out_total", "counter",
                "Derived events a stream processor committed.", processors, "events_out");
  per_processor(out, "herald_processor_statement_seconds_total", "counter",
                "Time spent running a stream processor's statement.", processors, "statement_ns",
                1e-9);
  per_processor(out, "herald_processor_wait_seconds_total", "counter",
                "Time a stream processor waited for its read models (wait_for).", processors,
                "wait_ns", 1e-9);
  per_processor(out, "herald_processor_lag", "gauge",
                "Events committed but not yet handled by a stream processor.", processors, "lag");
  per_processor(out, "herald_processor_position", "gauge",
                "Last journal position a stream processor has handled.", processors, "position");
  per_processor(out, "herald_processor_faulted", "gauge", "1 when a stream processor is faulted.",
                processors, "faulted");
  per_processor(out, "herald_processor_rebuilds_total", "counter",
                "Rebuilds of a stream processor since the node started.", processors, "rebuilds");
  per_processor(out, "herald_processor_generation", "gauge",
                "A stream processor's generation: how many times it was ever rebuilt.", processors,
                "generation");
}

std::string render(const server_context& ctx, const actors::actor_stats& journal,
                   const actors::actor_stats& channels,
                   const std::vector<actors::actor_stats>& projections,
                   const std::vector<actors::actor_stats>& processors) {
  const auto& m = *ctx.session->metrics;
  std::ostringstream out;
  metric(out, "herald_connections", "gauge", "Open client connections.", m.connections.load());
  metric(out, "herald_connections_total", "counter", "Client connections accepted.",
         static_cast<double>(m.connections_total.load()));
  metric(out, "herald_subscriptions", "gauge", "Active channel subscriptions.",
         m.subscriptions.load());
  metric(out, "herald_publishes_total", "counter",
         "Client publishes and REST appends acknowledged.",
         static_cast<double>(m.publishes.load()));
  metric(out, "herald_publish_errors_total", "counter", "Publishes and appends that failed.",
         static_cast<double>(m.publish_errors.load()));
  metric(out, "herald_publish_conflicts_total", "counter",
         "Publishes and appends refused as conflicts (wrong expected version, duplicate id).",
         static_cast<double>(m.publish_conflicts.load()));
  metric(out, "herald_appends_waited_total", "counter",
         "Publishes and appends that waited in their session for "
         "websocket.max_appends_in_flight.",
         static_cast<double>(m.appends_waited.load()));
  metric(out, "herald_deliveries_total", "counter",
         "Publications delivered to subscribers (one per subscriber).",
         static_cast<double>(figure(channels, "deliveries")));
  metric(out, "herald_messages_out_total", "counter",
         "Protocol messages written to clients (replies, pushes, pings).",
         static_cast<double>(m.frames_out.load()));
  metric(out, "herald_commands_total", "counter", "Client protocol commands handled.",
         static_cast<double>(m.commands.load()));
  metric(out, "herald_disconnects_total", "counter",
         "Connections the server closed with a protocol code.",
         static_cast<double>(m.disconnects.load()));
  metric(out, "herald_rate_limited_total", "counter",
         "Commands refused with 111 by a per-connection rate limit.",
         static_cast<double>(m.rate_limited.load()));
  metric(out, "herald_slow_consumers_total", "counter",
         "Connections closed with 3008 because they did not read fast enough.",
         static_cast<double>(m.slow_consumers.load()));
  auto backlog = ctx.connections->queued();
  metric(out, "herald_outbound_queued_bytes", "gauge",
         "Outgoing bytes waiting for client sockets, all connections.",
         static_cast<double>(backlog.total_bytes));
  metric(out, "herald_outbound_queued_bytes_max", "gauge",
         "Outgoing bytes waiting on the most backed-up connection (bounded by "
         "websocket.max_queued_bytes).",
         static_cast<double>(backlog.largest_bytes));
  metric(out, "herald_refused_connections_total", "counter",
         "Connections refused (http.max_connections, websocket.max_connections, "
         "websocket.max_pending_per_address, or origin).",
         static_cast<double>(m.refused_connections.load()));
  metric(out, "herald_auth_failures_total", "counter",
         "Tokens refused (invalid, expired, or not for this channel).",
         static_cast<double>(m.auth_failures.load()));
  metric(out, "herald_channels", "gauge", "Active channel actors.", figure(channels, "channels"));
  metric(out, "herald_journal_head", "gauge", "Position of the last committed event.",
         figure(journal, "head"));
  metric(out, "herald_journal_events_total", "counter", "Events committed since start.",
         figure(journal, "events"));
  metric(out, "herald_journal_batches_total", "counter", "Group-commit transactions.",
         figure(journal, "batches"));
  metric(out, "herald_journal_rejected_total", "counter",
         "Appends refused because the journal queue was full.",
         figure(journal, "rejected_overloaded"));
  out << "# HELP herald_append_latency_seconds Time from an append request to its "
         "acknowledgement.\n# TYPE herald_append_latency_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < gateway::session_metrics::bounds.size(); ++i) {
    cumulative += m.latency_buckets[i].load();
    char le[32];
    std::snprintf(le, sizeof le, "%g", gateway::session_metrics::bounds[i]);
    out << "herald_append_latency_seconds_bucket{le=\"" << le << "\"} " << cumulative << '\n';
  }
  cumulative += m.latency_buckets.back().load();
  out << "herald_append_latency_seconds_bucket{le=\"+Inf\"} " << cumulative << '\n'
      << "herald_append_latency_seconds_sum " << static_cast<double>(m.latency_sum_us.load()) / 1e6
      << '\n'
      << "herald_append_latency_seconds_count " << m.latency_count.load() << '\n';
  out << "# HELP herald_projection_lag Events committed but not yet applied by a projection.\n"
         "# TYPE herald_projection_lag gauge\n";
  for (const auto& p : projections)
    out << "herald_projection_lag{projection=\"" << p.name.substr(p.name.find(' ') + 1) << "\"} "
        << figure(p, "lag") << '\n';
  out << "# HELP herald_projection_position Last journal position applied by a projection.\n"
         "# TYPE herald_projection_position gauge\n";
  for (const auto& p : projections)
    out << "herald_projection_position{projection=\"" << p.name.substr(p.name.find(' ') + 1)
        << "\"} " << figure(p, "position") << '\n';
  out << "# HELP herald_projection_faulted 1 when a projection is faulted.\n"
         "# TYPE herald_projection_faulted gauge\n";
  for (const auto& p : projections)
    out << "herald_projection_faulted{projection=\"" << p.name.substr(p.name.find(' ') + 1)
        << "\"} " << figure(p, "faulted") << '\n';
  processor_metrics(out, processors);
  return out.str();
}

} // namespace

void render_metrics(const std::shared_ptr<server_context>& ctx,
                    std::function<void(std::string)> done) {
  // journal -> channels -> projections, then render; a part that does not
  // answer renders as zeros rather than failing the scrape.
  const auto& node = ctx->node();
  auto timeout = std::chrono::milliseconds(2000);
  auto after_projections = [ctx, done, timeout](auto journal, auto channels) {
    return [ctx, done, journal, channels, timeout](std::vector<actors::actor_stats> projections) {
      auto finish = [ctx, done, journal, channels,
                     projections](std::vector<actors::actor_stats> processors) {
        done(render(*ctx, journal, channels, projections, processors));
      };
      ask<std::vector<actors::actor_stats>>(
        ctx->sys, ctx->node().processors, timeout,
        [finish](std::vector<actors::actor_stats>& p) { finish(std::move(p)); },
        [finish](const caf::error&) { finish({}); }, actors::stats_atom_v);
    };
  };
  ask<actors::actor_stats>(
    ctx->sys, node.journal, timeout,
    [ctx, timeout, after_projections](actors::actor_stats& journal) {
      ask<actors::actor_stats>(
        ctx->sys, ctx->node().channels, timeout,
        [ctx, timeout, journal, after_projections](actors::actor_stats& channels) {
          auto finish = after_projections(journal, channels);
          ask<std::vector<actors::actor_stats>>(
            ctx->sys, ctx->node().projections, timeout,
            [finish](std::vector<actors::actor_stats>& p) { finish(std::move(p)); },
            [finish](const caf::error&) { finish({}); }, actors::stats_atom_v);
        },
        [ctx, timeout, journal, after_projections](const caf::error&) {
          auto finish = after_projections(journal, actors::actor_stats{});
          finish({});
        },
        actors::stats_atom_v);
    },
    [ctx, done](const caf::error&) { done(render(*ctx, {}, {}, {}, {})); }, actors::stats_atom_v);
}

} // namespace herald::net
