// The typed settings of a herald node. Every scalar field here is described
// (default, bounds, one-line help) in setting_table.cpp and can be set from the
// TOML file or overridden on the command line; the structured parts
// (namespaces, projections, queries) come from the file only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace herald::config {

using duration = std::chrono::milliseconds;

/// What an acknowledged append promises (see docs/configuration.md).
enum class durability : uint8_t {
  full,   ///< the batch's WAL frames were fsynced before the acknowledgement
  normal, ///< written to the OS; survives a process crash, not a power loss
};

enum class log_level : uint8_t { trace, debug, info, warn, error, off };

/// Who may perform an operation on a channel of a namespace.
enum class permission : uint8_t {
  off,        ///< nobody; the feature is disabled in this namespace
  any,        ///< any connected client (anonymous ones if the namespace allows)
  subscriber, ///< clients subscribed to the channel
  token,      ///< clients holding a subscription token for the channel
  server,     ///< only the server API (REST with the API key)
};

struct endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
};

struct server_settings {
  endpoint listen;
  std::string data_dir = "./herald-data";
  log_level level = log_level::info;
  int64_t io_threads = 1;
  int64_t scheduler_threads = 2;
  /// How long an actor waits for another actor's answer (a journal read, an
  /// append, a subscription) before it gives up with a timeout error.
  duration actor_request_timeout = std::chrono::seconds(30);
};

struct journal_settings {
  durability mode = durability::full;
  int64_t max_batch_events = 2000;
  int64_t max_batch_bytes = 8 * 1024 * 1024;
  int64_t max_queue = 50000;
  /// How long a batch may wait, after a commit, for the appenders that
  /// commit acknowledged (they tend to append again at once): one batch of
  /// all of them instead of two of half each. 0: start at once.
  int64_t commit_wait_us = 200;
  int64_t readers = 2;
  int64_t stream_cache = 100000;
  int64_t id_fold_events = 8192;
  bool verify_on_open = false;
  duration checkpoint_every = std::chrono::milliseconds(500);
};

struct channel_settings {
  int64_t ring_size = 1024;
  duration idle_stop = std::chrono::seconds(30);
  int64_t max_name_length = 255;
  /// Past this many live channels, one stops when its last subscriber leaves.
  int64_t max_idle = 1000;
  /// Past this many subscribers a channel sends no join/leave pushes:
  /// pushing every join to every subscriber costs O(N^2).
  int64_t join_leave_max_subscribers = 1000;
};

struct projection_settings {
  int64_t apply_batch = 1000;
  int64_t snapshot_every_events = 100000;
  duration snapshot_every = std::chrono::minutes(10);
  int64_t snapshot_keep = 3;
};

/// The WebSocket client protocol (docs/protocol.md).
struct websocket_settings {
  duration ping_interval = std::chrono::seconds(25);
  duration pong_timeout = std::chrono::seconds(10);
  duration connect_timeout = std::chrono::seconds(15);
  int64_t max_message_bytes = 65536;
  int64_t max_subscriptions = 512;
  int64_t history_limit = 1000;
  /// Most bytes of publications one history reply carries (also capped at
  /// half max_queued_bytes); the client pages on with `since`.
  int64_t history_max_bytes = 512 * 1024;
  int64_t max_connections = 10000;
  /// WebSocket connections from one IP address that have not completed
  /// `connect` yet (more: the upgrade is refused with 429).
  int64_t max_pending_per_address = 1000;
  int64_t max_data_bytes = 32 * 1024;
  int64_t publish_rate = 100;  ///< per second per connection; 0 = unlimited
  int64_t command_rate = 1000; ///< per second per connection; 0 = unlimited
  /// Appends one connection has sent to the journal and not seen answered;
  /// more wait in the session, in order. CAF keeps an actor's outstanding
  /// requests in a vector, so thousands in flight make every answer O(n).
  int64_t max_appends_in_flight = 256;
  /// Per second per connection (the default lets a client with
  /// max_subscriptions resubscribe all at once); 0 = unlimited.
  int64_t subscribe_rate = 512;
  int64_t max_queued_bytes = 1024 * 1024;
  int64_t max_queued_messages = 10000;
  duration close_timeout = std::chrono::seconds(5);
  duration expiry_grace = std::chrono::seconds(25);
  /// Comma-separated origins browsers may connect from ("*": any); empty:
  /// only pages served by this node (Origin matching Host).
  std::string allowed_origins;
};

/// JWT verification (docs/security.md). No key: token-less clients only.
struct token_settings {
  std::string hmac_secret;
  std::string rsa_public_key;   ///< PEM text
  std::string ecdsa_public_key; ///< PEM text
  std::string audience;
  std::string issuer;
};

struct http_settings {
  int64_t max_body_bytes = 1024 * 1024;
  duration header_timeout = std::chrono::seconds(10);
  duration idle_timeout = std::chrono::seconds(60);
  duration request_timeout = std::chrono::seconds(10);
  int64_t max_read_events = 1000;
  /// Open sockets of every kind (HTTP keep-alive and WebSocket); more are
  /// closed right after accept.
  int64_t max_connections = 20000;
  /// When set, REST writes, raw journal reads, admin endpoints and
  /// non-public queries need it (Authorization: apikey KEY, or X-API-Key).
  std::string api_key;
  /// What events appended with the API key record as `meta.key` (audit,
  /// docs/security.md): a name, never the key itself.
  std::string api_key_name = "default";
};

struct query_settings {
  int64_t pool = 2;
  int64_t row_limit = 1000;
  duration timeout = std::chrono::seconds(2);
};

/// Options of one channel namespace (the part of a channel name before ':').
struct namespace_settings {
  bool anonymous = false;
  permission subscribe = permission::any;
  permission publish = permission::subscriber;
  permission history = permission::subscriber;
  permission presence = permission::off;
  bool join_leave = false;
  bool recovery = true;
  /// Channels named NAME#u1,u2 may be subscribed only by users u1 and u2.
  bool user_limited = false;
  std::string default_type = "message";
  /// Stream processors that may append derived events to this namespace's
  /// channels (docs/processors.md); none by default.
  std::vector<std::string> writers;
};

/// Where a piece of SQL sits in the config file, so that an SQL error can
/// name its line: `line` holds the SQL's first character; when
/// `exact_lines`, its Nth newline is the file's next line (false when escapes
/// such as \n or a line-ending backslash make the two differ).
struct text_origin {
  int line = 0;
  bool exact_lines = false;
};

/// One projection handler: which events it applies to and the SQL it runs.
struct handler_def {
  std::string namespace_name;     ///< empty = events of every namespace
  std::vector<std::string> types; ///< empty = every type
  std::string sql;
  int line = 0;
  /// Whether events of private ('$') channels reach it: off unless the
  /// handler asks, so that a public read model cannot show private text.
  bool include_private = false;
  text_origin sql_at;
};

struct projection_def {
  std::string name;
  std::string schema;
  std::vector<handler_def> handlers;
  int line = 0;
  text_origin schema_at;
};

struct query_param {
  enum class kind : uint8_t { text, integer };
  std::string name;
  kind type = kind::text;
  bool required = false;
  std::optional<std::string> default_value;
};

struct query_def {
  std::string name;
  std::string projection;
  std::string sql;
  std::vector<query_param> params;
  bool public_read = true;
  int line = 0;
  text_origin sql_at;
};

/// One stream processor (docs/processors.md): a read-only SELECT run once
/// per committed batch of the events it reads, whose rows are derived events.
struct processor_def {
  std::string name;
  std::vector<std::string> namespaces;  ///< the namespaces whose events it reads
  std::vector<std::string> types;       ///< empty = every type
  std::vector<std::string> read_models; ///< projections it may read (attached read-only)
  /// Read models that must have applied a batch before it runs on it; when
  /// not given, every read model it reads.
  std::vector<std::string> wait_for;
  std::string sql;
  int line = 0;
  text_origin sql_at;
};

/// Limits shared by every stream processor.
struct processor_settings {
  int64_t batch_events = 1000; ///< most source events one statement run sees
  int64_t max_outputs = 10000; ///< most derived events one run may produce
  duration timeout = std::chrono::seconds(2);
  duration retry_every = std::chrono::seconds(5);
};

struct settings {
  /// Where the structured parts came from, for error messages: the file
  /// name, or "(embedded default)".
  std::string source = "(embedded default)";
  server_settings server;
  journal_settings journal;
  channel_settings channels;
  projection_settings projections;
  query_settings queries;
  processor_settings processors;
  websocket_settings websocket;
  http_settings http;
  token_settings tokens;
  std::map<std::string, namespace_settings> namespaces;
  std::vector<projection_def> projection_defs;
  std::vector<query_def> query_defs;
  std::vector<processor_def> processor_defs;

  /// The namespace of a channel name: the part before the first ':', or
  /// "default" for names without one. Returns nullptr when not configured.
  const namespace_settings* namespace_of(std::string_view channel) const;
};

/// Name of the namespace a channel belongs to ("default" when it has no ':').
/// A leading '$' (private channel: a subscription token is required) is not
/// part of the name.
std::string_view namespace_name(std::string_view channel);

} // namespace herald::config
