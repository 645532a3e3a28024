#include "config/setting_table.hpp"

#include "config/values.hpp"

#include <array>
#include <cctype>
#include <fstream>
#include <sstream>
#include <utility>

namespace herald::config {

namespace {

using namespace std::chrono_literals;

template <class Root, class T>
using field_ref = std::function<T&(Root&)>;

/// Reference to a member of a member, for the two-level settings struct.
template <class Section, class T>
field_ref<settings, T> at(Section settings::*section, T Section::*member) {
  return [=](settings& s) -> T& { return (s.*section).*member; };
}

template <class T>
field_ref<namespace_settings, T> at(T namespace_settings::*member) {
  return [=](namespace_settings& s) -> T& { return s.*member; };
}

template <class Root, class T>
std::function<std::string(const Root&)> printer(field_ref<Root, T> ref,
                                                std::string (*fmt)(const T&)) {
  return [ref, fmt](const Root& r) { return fmt(ref(const_cast<Root&>(r))); };
}

/// Turns a parse result into "store the value, or return the reason".
template <class Root, class T, class Parse>
std::function<std::optional<std::string>(Root&, std::string_view)> storer(field_ref<Root, T> ref,
                                                                          Parse parse) {
  return [ref, parse](Root& r, std::string_view text) -> std::optional<std::string> {
    auto result = parse(text);
    if (auto* bad = std::get_if<invalid>(&result))
      return bad->reason;
    ref(r) = std::move(std::get<0>(result));
    return std::nullopt;
  };
}

template <class Root>
setting<Root> integer(std::string key, std::string description, int64_t min, int64_t max,
                      field_ref<Root, int64_t> ref) {
  return {std::move(key),
          std::move(description),
          std::to_string(min) + ".." + std::to_string(max),
          toml_kind::integer,
          storer(ref, [=](std::string_view t) { return parse_integer(t, min, max); }),
          printer<Root, int64_t>(ref, [](const int64_t& v) { return std::to_string(v); })};
}

template <class Root>
setting<Root> size(std::string key, std::string description, int64_t min, int64_t max,
                   field_ref<Root, int64_t> ref) {
  return {std::move(key),
          std::move(description),
          format_size(min) + ".." + format_size(max),
          toml_kind::integer_or_string,
          storer(ref, [=](std::string_view t) { return parse_size(t, min, max); }),
          printer<Root, int64_t>(ref, [](const int64_t& v) { return format_size(v); })};
}

template <class Root>
setting<Root> time_span(std::string key, std::string description, duration min, duration max,
                        field_ref<Root, duration> ref) {
  return {std::move(key),
          std::move(description),
          format_duration(min) + ".." + format_duration(max),
          toml_kind::string,
          storer(ref, [=](std::string_view t) { return parse_duration(t, min, max); }),
          printer<Root, duration>(ref, [](const duration& v) { return format_duration(v); })};
}

template <class Root>
setting<Root> boolean(std::string key, std::string description, field_ref<Root, bool> ref) {
  return {
    std::move(key),
    std::move(description),
    "true|false",
    toml_kind::boolean,
    storer(ref, [](std::string_view t) { return parse_bool(t); }),
    printer<Root, bool>(ref, [](const bool& v) { return std::string(v ? "true" : "false"); })};
}

template <class Root>
setting<Root> text(std::string key, std::string description, std::string bounds,
                   field_ref<Root, std::string> ref,
                   parsed<std::string> (*check)(std::string_view)) {
  return {
    std::move(key),     std::move(description),
    std::move(bounds),  toml_kind::string,
    storer(ref, check), printer<Root, std::string>(ref, [](const std::string& v) { return v; })};
}

/// An enum setting spelled as one of a fixed list of words.
template <class Root, class E, size_t N>
setting<Root> choice(std::string key, std::string description, std::array<E, N> values,
                     field_ref<Root, E> ref) {
  std::string bounds;
  for (auto v : values)
    bounds += (bounds.empty() ? "" : "|") + std::string(to_string(v));
  auto parse = [values, bounds](std::string_view t) -> parsed<E> {
    for (auto v : values)
      if (to_string(v) == t)
        return v;
    return invalid{"\"" + std::string(t) + "\" is not one of " + bounds};
  };
  return {std::move(key),
          std::move(description),
          bounds,
          toml_kind::string,
          storer(ref, parse),
          printer<Root, E>(ref, [](const E& v) { return std::string(to_string(v)); })};
}

parsed<std::string> non_empty_path(std::string_view t) {
  if (t.empty())
    return invalid{"must not be empty"};
  return std::string(t);
}

parsed<std::string> any_text(std::string_view t) {
  return std::string(t);
}

/// A PEM public key given inline, or the path of a file holding one.
parsed<std::string> public_key(std::string_view t) {
  if (t.empty() || t.rfind("-----BEGIN", 0) == 0)
    return std::string(t);
  std::ifstream in{std::string(t), std::ios::binary};
  std::ostringstream pem;
  if (!in || !(pem << in.rdbuf()))
    return invalid{"cannot read the key file " + std::string(t)};
  if (pem.str().rfind("-----BEGIN", 0) != 0)
    return invalid{std::string(t) + " does not hold a PEM key"};
  return pem.str();
}

/// A string setting whose value is never printed (help, `herald config`).
template <class Root>
setting<Root> secret(std::string key, std::string description, field_ref<Root, std::string> ref) {
  return {std::move(key),
          std::move(description),
          "TEXT",
          toml_kind::string,
          storer(ref, any_text),
          printer<Root, std::string>(
            ref, [](const std::string& v) { return std::string(v.empty() ? "" : hidden_secret); })};
}

/// A name recorded in every event's metadata: short and plain.
parsed<std::string> key_name(std::string_view t) {
  if (t.empty() || t.size() > 64)
    return invalid{"must be 1..64 characters"};
  for (char c : t)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return invalid{"may hold only letters, digits, '-', '_' and '.'"};
  return std::string(t);
}

parsed<std::string> event_type_name(std::string_view t) {
  if (t.empty() || t.size() > 128)
    return invalid{"must be 1..128 characters"};
  return std::string(t);
}

std::vector<setting<settings>> make_node_settings() {
  using S = settings;
  constexpr int64_t kib = 1024, mib = 1024 * kib, gib = 1024 * mib;
  return {
    // [server]
    {"server.listen", "Address and port of the HTTP and WebSocket listener", "HOST:PORT",
     toml_kind::string,
     storer(at(&S::server, &server_settings::listen),
            [](std::string_view t) { return parse_endpoint(t); }),
     printer<S, endpoint>(at(&S::server, &server_settings::listen),
                          [](const endpoint& e) { return format_endpoint(e); })},
    text<S>("server.data_dir", "Directory holding the journal, read models and snapshots", "PATH",
            at(&S::server, &server_settings::data_dir), non_empty_path),
    choice<S>("server.log_level", "Least severe log level written to stderr",
              std::array{log_level::trace, log_level::debug, log_level::info, log_level::warn,
                         log_level::error, log_level::off},
              at(&S::server, &server_settings::level)),
    integer<S>("server.io_threads", "Network I/O loops, one thread each", 1, 64,
               at(&S::server, &server_settings::io_threads)),
    integer<S>("server.scheduler_threads", "Threads running the actor scheduler", 1, 64,
               at(&S::server, &server_settings::scheduler_threads)),
    time_span<S>("server.actor_request_timeout",
                 "How long an actor waits for another actor's answer before giving up",
                 duration(100), std::chrono::hours(1),
                 at(&S::server, &server_settings::actor_request_timeout)),
    // [journal]
    choice<S>("journal.durability",
              "full: an acknowledged append was fsynced; normal: it survives a "
              "process crash but not a power loss",
              std::array{durability::full, durability::normal},
              at(&S::journal, &journal_settings::mode)),
    integer<S>("journal.max_batch_events", "Most events written in one group-commit transaction", 1,
               1000000, at(&S::journal, &journal_settings::max_batch_events)),
    size<S>("journal.max_batch_bytes", "Most payload bytes written in one group-commit transaction",
            4 * kib, gib, at(&S::journal, &journal_settings::max_batch_bytes)),
    integer<S>("journal.max_queue",
               "Appends waiting for the writer before new ones get a temporary "
               "error",
               1, 10000000, at(&S::journal, &journal_settings::max_queue)),
    integer<S>("journal.commit_wait_us",
               "Microseconds a group commit may wait for the appenders the previous one "
               "acknowledged (0: start as soon as the writer is free)",
               0, 1000000, at(&S::journal, &journal_settings::commit_wait_us)),
    integer<S>("journal.readers",
               "Reader actors serving stream and log reads, each with its own "
               "connection",
               1, 64, at(&S::journal, &journal_settings::readers)),
    integer<S>("journal.stream_cache", "Streams whose current version the writer keeps in memory",
               16, 100000000, at(&S::journal, &journal_settings::stream_cache)),
    integer<S>("journal.id_fold_events",
               "Events whose client ids the writer checks in memory before folding them into "
               "the id index in one bulk insert (memory: about 250 B per id)",
               1, 1000000, at(&S::journal, &journal_settings::id_fold_events)),
    time_span<S>("journal.checkpoint_every",
                 "How often the WAL is copied into the journal file, off the commit path",
                 duration(10), std::chrono::minutes(10),
                 at(&S::journal, &journal_settings::checkpoint_every)),
    boolean<S>("journal.verify_on_open",
               "Run SQLite's quick_check on the journal at start (slow on big "
               "files)",
               at(&S::journal, &journal_settings::verify_on_open)),
    // [channels]
    integer<S>("channels.ring_size", "Recent events each channel keeps in memory for fast catch-up",
               0, 1000000, at(&S::channels, &channel_settings::ring_size)),
    time_span<S>("channels.idle_stop",
                 "How long a channel with no subscribers lives before it stops", duration(0),
                 std::chrono::hours(24), at(&S::channels, &channel_settings::idle_stop)),
    integer<S>("channels.max_name_length", "Longest channel name accepted, in bytes", 1, 4096,
               at(&S::channels, &channel_settings::max_name_length)),
    integer<S>("channels.max_idle",
               "Channels without subscribers kept for channels.idle_stop; past this many live "
               "channels, one stops as soon as its last subscriber leaves",
               0, 100000000, at(&S::channels, &channel_settings::max_idle)),
    integer<S>("channels.join_leave_max_subscribers",
               "Past this many subscribers a channel sends no join/leave pushes (presence stays "
               "exact)",
               0, 100000000, at(&S::channels, &channel_settings::join_leave_max_subscribers)),
    // [websocket]
    time_span<S>("websocket.ping_interval", "How often the server pings each client (0ms: never)",
                 duration(0), std::chrono::hours(1),
                 at(&S::websocket, &websocket_settings::ping_interval)),
    time_span<S>("websocket.pong_timeout",
                 "Close with 3012 when no pong follows a ping within this", duration(100),
                 std::chrono::minutes(10), at(&S::websocket, &websocket_settings::pong_timeout)),
    time_span<S>("websocket.connect_timeout",
                 "Close with 3502 when no connect command arrives within this", duration(100),
                 std::chrono::minutes(10), at(&S::websocket, &websocket_settings::connect_timeout)),
    size<S>("websocket.max_message_bytes",
            "Largest WebSocket message accepted from a client (bigger: close 1009)", 1024, 64 * mib,
            at(&S::websocket, &websocket_settings::max_message_bytes)),
    integer<S>("websocket.max_subscriptions",
               "Most channels one connection may subscribe to (more: error 106)", 1, 1000000,
               at(&S::websocket, &websocket_settings::max_subscriptions)),
    integer<S>("websocket.history_limit", "Most publications one history request returns", 1,
               1000000, at(&S::websocket, &websocket_settings::history_limit)),
    size<S>("websocket.history_max_bytes",
            "Most bytes of publications one history reply carries, at most half "
            "max_queued_bytes (more: fewer publications; the client pages with since)",
            1024, gib, at(&S::websocket, &websocket_settings::history_max_bytes)),
    integer<S>("websocket.max_connections",
               "Most WebSocket connections this node holds (more: close 3504)", 1, 10000000,
               at(&S::websocket, &websocket_settings::max_connections)),
    integer<S>("websocket.max_pending_per_address",
               "WebSocket connections from one IP address that have not sent connect yet "
               "(more: the upgrade is refused with 429)",
               1, 10000000, at(&S::websocket, &websocket_settings::max_pending_per_address)),
    size<S>("websocket.max_data_bytes",
            "Largest data of one publish or append (WebSocket or REST), as subscribers receive it "
            "(bigger: error 106, REST 413)",
            16, 64 * mib, at(&S::websocket, &websocket_settings::max_data_bytes)),
    integer<S>("websocket.publish_rate",
               "Publishes and appends per second one connection may make (more: error 111, "
               "then close 3013; 0 = no limit)",
               0, 10000000, at(&S::websocket, &websocket_settings::publish_rate)),
    integer<S>("websocket.command_rate",
               "Commands per second one connection may send (more: error 111, then close "
               "3013; 0 = no limit)",
               0, 10000000, at(&S::websocket, &websocket_settings::command_rate)),
    integer<S>("websocket.max_appends_in_flight",
               "Publishes and appends of one connection the journal has not answered yet "
               "(more wait in the session, in order)",
               1, 1000000, at(&S::websocket, &websocket_settings::max_appends_in_flight)),
    integer<S>("websocket.subscribe_rate",
               "Subscribes per second one connection may make (more: error 111, then close "
               "3013; 0 = no limit)",
               0, 10000000, at(&S::websocket, &websocket_settings::subscribe_rate)),
    size<S>("websocket.max_queued_bytes",
            "Outgoing bytes a connection may have waiting (more: close 3008, slow consumer)",
            4 * kib, gib, at(&S::websocket, &websocket_settings::max_queued_bytes)),
    integer<S>("websocket.max_queued_messages",
               "Outgoing messages a connection may have waiting (more: close 3008)", 16, 100000000,
               at(&S::websocket, &websocket_settings::max_queued_messages)),
    time_span<S>("websocket.close_timeout",
                 "How long a closing connection may take to drain before its socket is cut",
                 duration(10), std::chrono::minutes(10),
                 at(&S::websocket, &websocket_settings::close_timeout)),
    time_span<S>("websocket.expiry_grace",
                 "Time past a token's expiry for the client's refresh (then 3005, or 2501 "
                 "for a subscription)",
                 duration(0), std::chrono::hours(1),
                 at(&S::websocket, &websocket_settings::expiry_grace)),
    text<S>("websocket.allowed_origins",
            "Comma-separated Origins browsers may connect from, * for any (empty: only "
            "pages of this node)",
            "ORIGIN,...", at(&S::websocket, &websocket_settings::allowed_origins), any_text),
    // [tokens]
    secret<S>("tokens.hmac_secret", "Secret for HS256/384/512 tokens (empty: refused)",
              at(&S::tokens, &token_settings::hmac_secret)),
    text<S>("tokens.rsa_public_key",
            "PEM public key, or a file holding it, for RS256/384/512 tokens (empty: refused)",
            "PEM|PATH", at(&S::tokens, &token_settings::rsa_public_key), public_key),
    text<S>("tokens.ecdsa_public_key",
            "PEM public key, or a file holding it, for ES256/384/512 tokens (empty: refused)",
            "PEM|PATH", at(&S::tokens, &token_settings::ecdsa_public_key), public_key),
    text<S>("tokens.audience", "When set, tokens must name it in \"aud\"", "TEXT",
            at(&S::tokens, &token_settings::audience), any_text),
    text<S>("tokens.issuer", "When set, tokens must carry it as \"iss\"", "TEXT",
            at(&S::tokens, &token_settings::issuer), any_text),
    // [http]
    size<S>("http.max_body_bytes", "Largest HTTP request body accepted (bigger: 413)", 1024, gib,
            at(&S::http, &http_settings::max_body_bytes)),
    time_span<S>("http.header_timeout",
                 "Longest a client may take to send a request, from its first byte", duration(100),
                 std::chrono::minutes(10), at(&S::http, &http_settings::header_timeout)),
    time_span<S>("http.idle_timeout", "How long an idle keep-alive connection stays open",
                 duration(100), std::chrono::hours(1), at(&S::http, &http_settings::idle_timeout)),
    time_span<S>("http.request_timeout", "Longest a REST request waits for the node before a 503",
                 duration(100), std::chrono::minutes(10),
                 at(&S::http, &http_settings::request_timeout)),
    integer<S>("http.max_connections",
               "Most open sockets of every kind, HTTP and WebSocket (more: closed right "
               "after accept)",
               1, 10000000, at(&S::http, &http_settings::max_connections)),
    integer<S>("http.max_read_events", "Most events one REST read returns (limit is capped)", 1,
               1000000, at(&S::http, &http_settings::max_read_events)),
    secret<S>("http.api_key",
              "Key REST writes, journal reads, admin calls and non-public queries need "
              "(empty: none needed)",
              at(&S::http, &http_settings::api_key)),
    text<S>("http.api_key_name",
            "Name events appended with the API key record as meta.key (the key itself never "
            "is)",
            "NAME", at(&S::http, &http_settings::api_key_name), key_name),
    // [projections]
    integer<S>("projections.apply_batch", "Most events a projection applies in one transaction", 1,
               1000000, at(&S::projections, &projection_settings::apply_batch)),
    integer<S>("projections.snapshot_every_events",
               "Take a snapshot after this many applied events (0 = never by count)", 0,
               int64_t{1} << 40, at(&S::projections, &projection_settings::snapshot_every_events)),
    time_span<S>("projections.snapshot_every",
                 "Take a snapshot after this much time with new events (0ms = "
                 "never by time)",
                 duration(0), std::chrono::hours(24 * 30),
                 at(&S::projections, &projection_settings::snapshot_every)),
    integer<S>("projections.snapshot_keep", "Snapshots kept per projection", 1, 1000,
               at(&S::projections, &projection_settings::snapshot_keep)),
    // [queries]
    integer<S>("queries.pool", "Query actors answering named queries", 1, 64,
               at(&S::queries, &query_settings::pool)),
    integer<S>("queries.row_limit", "Most rows one named query returns", 1, 1000000,
               at(&S::queries, &query_settings::row_limit)),
    time_span<S>("queries.timeout", "Longest a named query may run", 1ms, std::chrono::minutes(10),
                 at(&S::queries, &query_settings::timeout)),
    // [processors]
    integer<S>("processors.batch_events",
               "Most source events a stream processor's statement sees in one run", 1, 100000,
               at(&S::processors, &processor_settings::batch_events)),
    integer<S>("processors.max_outputs",
               "Most derived events one run of a processor's statement may produce (more: "
               "the processor faults)",
               1, 1000000, at(&S::processors, &processor_settings::max_outputs)),
    time_span<S>("processors.timeout", "Longest one run of a processor's statement may take", 1ms,
                 std::chrono::minutes(10), at(&S::processors, &processor_settings::timeout)),
    time_span<S>("processors.retry_every",
                 "How soon a processor retries after a temporary failure (a busy or missing read "
                 "model, a refused append)",
                 10ms, std::chrono::minutes(10),
                 at(&S::processors, &processor_settings::retry_every)),
  };
}

std::vector<setting<namespace_settings>> make_namespace_options() {
  using N = namespace_settings;
  constexpr std::array permissions{permission::off, permission::any, permission::subscriber,
                                   permission::token, permission::server};
  return {
    boolean<N>("anonymous", "Clients without a token may use this namespace", at(&N::anonymous)),
    choice<N>("subscribe", "Who may subscribe", permissions, at(&N::subscribe)),
    choice<N>("publish", "Who may publish", permissions, at(&N::publish)),
    choice<N>("history", "Who may read history", permissions, at(&N::history)),
    choice<N>("presence", "Who may read presence (off disables it)", permissions, at(&N::presence)),
    boolean<N>("join_leave", "Send join and leave pushes to subscribers", at(&N::join_leave)),
    boolean<N>("recovery", "Subscribers may recover missed events from the journal",
               at(&N::recovery)),
    boolean<N>("user_limited", "Channels NAME#u1,u2 admit only the users listed after #",
               at(&N::user_limited)),
    text<N>("default_type", "Event type of a publish whose data has no string \"type\"",
            "1..128 characters", at(&N::default_type), event_type_name),
  };
}

} // namespace

const std::vector<setting<settings>>& node_settings() {
  static const auto table = make_node_settings();
  return table;
}

const std::vector<setting<namespace_settings>>& namespace_options() {
  static const auto table = make_namespace_options();
  return table;
}

std::string_view to_string(durability d) {
  return d == durability::full ? "full" : "normal";
}

std::string_view to_string(log_level l) {
  switch (l) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
    case log_level::off:
      return "off";
  }
  return "info";
}

std::string_view to_string(permission p) {
  switch (p) {
    case permission::off:
      return "off";
    case permission::any:
      return "any";
    case permission::subscriber:
      return "subscriber";
    case permission::token:
      return "token";
    case permission::server:
      return "server";
  }
  return "off";
}

bool is_setting_key(std::string_view key) {
  if (find_setting(node_settings(), key))
    return true;
  constexpr std::string_view prefix = "namespaces.";
  if (key.substr(0, prefix.size()) != prefix)
    return false;
  auto rest = key.substr(prefix.size());
  auto dot = rest.rfind('.');
  return dot != std::string_view::npos && dot > 0
         && find_setting(namespace_options(), rest.substr(dot + 1)) != nullptr;
}

} // namespace herald::config
