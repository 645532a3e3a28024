// The client commands as typed structs, decoded from the frames
// parse_frame splits a message into (protocol/client_frame.hpp): one struct
// and one decode function per command, so that the session never reads a
// raw JSON field. The fields, their defaults and what a malformed one is
// answered with are those of docs/protocol.md.
//
// Payloads (`data`) stay JSON values inside the command's document: a
// decoded struct is valid only while its `command` lives.
#pragma once

#include "protocol/client_frame.hpp"
#include "protocol/codes.hpp"
#include "storage/event.hpp"
#include "storage/result.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace herald::protocol {

/// Why a command cannot be carried out as sent. `channel` is the channel
/// it names, when that field itself is well formed: the session checks a
/// channel (its namespace, its permissions) before the command's other
/// fields, so that refusal comes first, and a command on a channel whose
/// subscribe is in flight waits for it even when malformed.
struct decode_error {
  error_code code = error_code::bad_request;
  std::optional<std::string> channel;
};

/// A command, or why it is malformed.
template <class T>
using decoded = storage::result<T, decode_error>;

namespace commands {

/// Where a client was in a channel's stream: `since` of history, the
/// positions of connect's `subs`, and subscribe's recovery fields.
struct stream_position {
  uint64_t offset = 0; ///< absent: 0
  std::string epoch;   ///< absent: empty
};

/// connect. A malformed connect closes the connection with 3501.
struct connect {
  std::string token; ///< absent: empty (anonymous)
  /// The recovery positions the client sends for server-side channels, by
  /// channel; only well-formed ones ({recover: bool, offset: uint, epoch:
  /// string}, each optional) are kept, the others are ignored.
  struct known_position {
    bool recover = false;
    stream_position position;
  };
  std::map<std::string, known_position> subs;
};

/// subscribe. Malformed fields: 107; `tf` (tag filters) is not supported
/// and also 107.
struct subscribe {
  std::string channel;
  std::string token; ///< a subscription token; absent or empty: none
  bool recover = false;
  stream_position position; ///< where to recover from, when `recover`
  uint64_t flag = 0;        ///< bit 2: refuse the subscription if it cannot recover
  uint64_t type = 0;        ///< 0 is a plain subscription; others are refused with 103

  /// Flag bit 2: the client would rather not subscribe than miss
  /// publications.
  bool rejects_unrecovered() const {
    return (flag & 2) != 0;
  }
};

/// unsubscribe: never an error (an error would make the client reconnect);
/// a missing or malformed channel unsubscribes from nothing.
struct unsubscribe {
  std::optional<std::string> channel;
};

/// publish: `data` is any JSON value (nullptr when absent: null).
struct publish {
  std::string channel;
  const rapidjson::Value* data = nullptr;
};

struct presence {
  std::string channel;
};

struct presence_stats {
  std::string channel;
};

/// history. `limit`: absent 0; negative means as many as allowed
/// (websocket.history_limit).
struct history {
  std::string channel;
  int64_t limit = 0;
  bool reverse = false;
  std::optional<stream_position> since; ///< must be an object when present
};

/// rpc: `method` (absent: empty, answered 108), `data` its arguments.
struct rpc {
  std::string method;
  const rapidjson::Value* data = nullptr;
};

/// The arguments of rpc "append": {channel, type?, id?, expected_version?,
/// data}; checked by protocol/append_args.hpp (the rpc's rules), 107 when
/// malformed.
struct append {
  std::string channel;
  std::optional<std::string> type; ///< absent: the namespace's default type
  std::string event_id;            ///< absent or empty: none
  storage::expected_version expected = storage::expected_version::any();
  const rapidjson::Value* data = nullptr;
};

/// send: fire-and-forget, accepted and ignored.
struct send {
  const rapidjson::Value* data = nullptr;
};

/// refresh: a new connection token, required (empty is 107).
struct refresh {
  std::string token;
};

/// sub_refresh: a new subscription token for a channel, both required.
struct sub_refresh {
  std::string channel;
  std::string token;
};

/// The pong: `{}` (or only an id).
struct pong {};

} // namespace commands

decoded<commands::connect> decode_connect(const command& cmd);
decoded<commands::subscribe> decode_subscribe(const command& cmd);
decoded<commands::unsubscribe> decode_unsubscribe(const command& cmd);
decoded<commands::publish> decode_publish(const command& cmd);
decoded<commands::presence> decode_presence(const command& cmd);
decoded<commands::presence_stats> decode_presence_stats(const command& cmd);
decoded<commands::history> decode_history(const command& cmd);
decoded<commands::rpc> decode_rpc(const command& cmd);
/// The arguments of rpc "append" (the rpc's `data`; nullptr when absent).
decoded<commands::append> decode_append(const rapidjson::Value* args);
decoded<commands::send> decode_send(const command& cmd);
decoded<commands::refresh> decode_refresh(const command& cmd);
decoded<commands::sub_refresh> decode_sub_refresh(const command& cmd);

/// The channel a command acts on, when it names a well-formed one (also if
/// other fields are malformed); rpc "append" names it in its data.
std::optional<std::string> channel_named(const command& cmd);

/// The channel of a decoded command or of its error; nullptr when it names
/// none that is well formed.
template <class T>
const std::string* channel_of(const decoded<T>& d) {
  if (d)
    return &d->channel;
  const auto& e = d.error();
  return e.channel ? &*e.channel : nullptr;
}

} // namespace herald::protocol
