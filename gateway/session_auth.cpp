// Who a session is (docs/security.md): connection tokens on connect and
// refresh, subscription tokens on subscribe and sub_refresh, token expiry,
// and the server-side subscriptions a connection token grants. What each
// outcome means (permissions, channel rules, which code) is decided by
// session_policy; this file carries it out.
//
// The codes follow Centrifugo: an expired token is error 109 (the SDK
// fetches a new one); a forged or malformed connection token is close 3500
// (terminal); a bad subscription token is 103; a subscription token for
// someone else's connection or another channel is close 3500.
#include "gateway/session_state.hpp"

#include "storage/ids.hpp"
#include "storage/msgpack_json.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace herald::gateway {

namespace {

/// Seconds from now until `expires` (at least 1: the SDK needs a positive ttl).
int64_t ttl_of(int64_t expires) {
  return std::max<int64_t>(1, expires - unix_now());
}

/// Arms a timer for `expires` plus websocket.expiry_grace.
template <class... Ts>
void arm_expiry(self_ptr self, int64_t expires, Ts&&... xs) {
  auto grace = self->state.settings().websocket.expiry_grace;
  self->delayed_send(self, expiry_delay(expires, unix_now(), grace), expire_atom_v,
                     std::forward<Ts>(xs)...);
}

void arm_connection_expiry(self_ptr self) {
  auto& st = self->state;
  ++st.expiry_generation;
  if (st.expires)
    arm_expiry(self, *st.expires, st.expiry_generation);
}

enum class token_check : uint8_t { ok, refused };

/// Verifies a subscription token for `channel`; on failure the reply is
/// emitted (109, 103) or the connection closed (3500).
token_check check_subscription_token(self_ptr self, uint32_t id, const std::string& channel,
                                     const std::string& token, subscription& sub) {
  auto& st = self->state;
  auto r = st.ctx->tokens->verify(token, unix_now());
  auto outcome = session_policy::subscription_token(r, channel, st.user, st.client);
  if (outcome == token_outcome::expired_reply || outcome == token_outcome::denied_reply) {
    ++st.ctx->metrics->auth_failures;
    spdlog::debug("session {} from {}: subscription token for {} refused: {}", st.client, st.remote,
                  loggable(channel, 64), r.reason);
    if (outcome == token_outcome::expired_reply)
      emit(self, protocol::error_reply(id, error_code::token_expired, "token expired"));
    else
      emit(self, protocol::error_reply(id, error_code::permission_denied, "permission denied"));
    return token_check::refused;
  }
  const auto& c = r.claims;
  if (outcome != token_outcome::accepted) {
    ++st.ctx->metrics->auth_failures;
    spdlog::debug("session {} from {}: subscription token for {} is for another user, channel "
                  "or client",
                  st.client, st.remote, loggable(channel, 64));
    close_with(self, close_code::invalid_token, "invalid token");
    return token_check::refused;
  }
  sub.with_token = true;
  sub.expires = c.expires_at();
  sub.chan_info = c.info;
  return token_check::ok;
}

/// Closes a connection whose credentials do not let it in (connect,
/// refresh), counting and logging why: the client only sees `reason`.
void refuse_connection(self_ptr self, close_code code, const char* reason, const std::string& why) {
  auto& st = self->state;
  ++st.ctx->metrics->auth_failures;
  spdlog::info("connection from {} refused with {} \"{}\": {}", st.remote, protocol::value(code),
               reason, why);
  close_with(self, code, reason);
}

/// Builds the connect result once server-side subscriptions have answered.
void complete_connect(self_ptr self) {
  auto& st = self->state;
  auto& pc = *st.connecting;
  std::string result = pc.result_head + ",\"subs\":{";
  bool first = true;
  for (const auto& [channel, sub_result] : pc.subs) {
    if (!first)
      result += ',';
    first = false;
    storage::append_json_string(result, channel);
    result += ':' + sub_result;
  }
  result += "}}";
  emit(self, protocol::reply(pc.id, "connect", result));
  arm_ping(self);
  arm_connection_expiry(self);
  finish_connect(self);
}

} // namespace

std::string expiry_fields(const std::optional<int64_t>& expires) {
  if (!expires)
    return "";
  return ",\"expires\":true,\"ttl\":" + std::to_string(ttl_of(*expires));
}

bool admit_subscription(self_ptr self, uint32_t id, const std::string& channel,
                        const config::namespace_settings& ns, const std::string& token,
                        subscription& sub) {
  if (!session_policy::subscribable(ns)) {
    emit(self, protocol::error_reply(id, error_code::permission_denied, "permission denied"));
    return false;
  }
  // A subscription token is the application's own word: it admits to any
  // channel of a namespace that is not switched off.
  if (!token.empty())
    return check_subscription_token(self, id, channel, token, sub) == token_check::ok;
  if (!self->state.policy().admit_without_token(ns, channel, self->state.user))
    return true;
  emit(self, protocol::error_reply(id, error_code::permission_denied, "permission denied"));
  return false;
}

void arm_subscription_expiry(self_ptr self, const std::string& channel, subscription& sub) {
  ++sub.expiry_generation;
  if (sub.expires)
    arm_expiry(self, *sub.expires, channel, sub.expiry_generation);
}

bool handle_connect(self_ptr self, uint32_t id,
                    const protocol::decoded<protocol::commands::connect>& request) {
  auto& st = self->state;
  const auto* c = request ? &*request : nullptr;
  if (!c) {
    close_with(self, close_code::bad_request, "bad request");
    return false;
  }
  const auto& token = c->token;
  token_claims claims;
  if (!token.empty()) {
    auto r = st.ctx->tokens->verify(token, unix_now());
    auto outcome = session_policy::connect_token(r);
    if (outcome == token_outcome::expired_reply) {
      // The SDK fetches a new token and reconnects; until then the
      // connection is unusable (any other command: 3501).
      ++st.ctx->metrics->auth_failures;
      emit(self, protocol::error_reply(id, error_code::token_expired, "token expired"));
      return false;
    }
    if (outcome != token_outcome::accepted) {
      refuse_connection(self, close_code::invalid_token, "invalid token",
                        r.ok() ? std::string("a subscription token") : r.reason);
      return false;
    }
    claims = std::move(r.claims);
  }
  if (claims.sub.empty() && !st.ctx->anonymous_allowed()) {
    // Terminal (3500-3999 with a reason): the SDK does not retry a
    // connection that cannot succeed without a token.
    refuse_connection(self, close_code::invalid_token, "token required",
                      token.empty() ? "no token, and no namespace allows anonymous clients"
                                    : "a token without sub, and no namespace allows "
                                      "anonymous clients");
    return false;
  }
  st.user = claims.sub;
  st.conn_info = claims.info;
  st.expires = claims.expires_at();
  st.client = storage::uuid_generator().next();
  st.connected = true;
  list_session(self);
  std::string head = "{\"client\":\"" + st.client + "\",\"version\":";
  storage::append_json_string(head, st.ctx->version);
  head += expiry_fields(st.expires);
  auto ping =
    std::chrono::duration_cast<std::chrono::seconds>(st.settings().websocket.ping_interval);
  if (ping.count() > 0)
    head += ",\"ping\":" + std::to_string(ping.count()) + ",\"pong\":true";

  // Server-side subscriptions: the token's channels, in namespaces this node
  // knows, up to websocket.max_subscriptions.
  std::vector<std::pair<std::string, const config::namespace_settings*>> channels;
  for (const auto& name : claims.channels) {
    const auto* ns = st.settings().namespace_of(name);
    if (!ns || name.size() > static_cast<size_t>(st.settings().channels.max_name_length)
        || st.subs.count(name) || !st.policy().subscription_fits(st.subs.size())) {
      spdlog::warn("connection token of user {}: server-side channel {} skipped (unknown "
                   "namespace, too long, repeated or over the subscription limit)",
                   st.user, name);
      continue;
    }
    subscription sub;
    sub.server_side = true;
    st.subs[name] = std::move(sub);
    channels.emplace_back(name, ns);
  }
  if (channels.empty()) {
    emit(self, protocol::reply(id, "connect", head + "}"));
    arm_ping(self);
    arm_connection_expiry(self);
    return true;
  }
  pending_connect pc;
  pc.id = id;
  pc.result_head = std::move(head);
  pc.waiting = channels.size();
  st.connecting = std::move(pc);
  for (const auto& [name, ns] : channels) {
    // The client sends the positions of recoverable server-side channels.
    auto known = c->subs.find(name);
    auto from =
      known == c->subs.end() ? protocol::commands::connect::known_position{} : known->second;
    auto channel = name;
    start_subscription(self, 0, name, *ns, from.recover, std::move(from.position),
                       [self, channel](std::optional<std::string> result) {
                         auto& st = self->state;
                         if (!st.connecting || st.closing)
                           return;
                         if (result)
                           st.connecting->subs[channel] = std::move(*result);
                         if (--st.connecting->waiting == 0)
                           complete_connect(self);
                       });
  }
  return true;
}

void handle_refresh(self_ptr self, uint32_t id, const protocol::commands::refresh& request) {
  auto& st = self->state;
  auto r = st.ctx->tokens->verify(request.token, unix_now());
  auto outcome = session_policy::refresh_token(r, st.user);
  if (outcome == token_outcome::expired_close) {
    ++st.ctx->metrics->auth_failures;
    close_with(self, close_code::connection_expired,
               "connection expired"); // reconnect with a fresh token
    return;
  }
  if (outcome != token_outcome::accepted) {
    refuse_connection(self, close_code::invalid_token, "invalid token",
                      !r.ok()                        ? r.reason
                      : !r.claims.for_subscription() ? std::string("another user")
                                                     : std::string("a subscription token"));
    return;
  }
  st.expires = r.claims.expires_at();
  if (!r.claims.info.empty())
    st.conn_info = r.claims.info;
  arm_connection_expiry(self);
  std::string result = "{\"client\":\"" + st.client + "\",\"version\":";
  storage::append_json_string(result, st.ctx->version);
  result += expiry_fields(st.expires) + "}";
  emit(self, protocol::reply(id, "refresh", result));
}

void on_server_refresh(self_ptr self, bool expired, int64_t expire_at, const std::string& info) {
  auto& st = self->state;
  if (st.closing || !st.connected)
    return;
  if (expired) {
    close_with(self, close_code::connection_expired, "connection expired");
    return;
  }
  if (!info.empty())
    st.conn_info = info;
  if (expire_at > 0) {
    st.expires = expire_at;
    arm_connection_expiry(self); // at once (3005) if it has passed
  }
}

void handle_sub_refresh(self_ptr self, uint32_t id,
                        const protocol::commands::sub_refresh& request) {
  auto& st = self->state;
  const auto& channel = request.channel;
  if (!admit(self, id, channel_command::sub_refresh, &channel))
    return;
  subscription granted;
  if (check_subscription_token(self, id, channel, request.token, granted) != token_check::ok)
    return;
  auto it = st.subs.find(channel); // still there: checking does not unsubscribe
  it->second.expires = granted.expires;
  arm_subscription_expiry(self, channel, it->second);
  emit(self, protocol::reply(id, "sub_refresh",
                             granted.expires ? "{\"expires\":true,\"ttl\":"
                                                 + std::to_string(ttl_of(*granted.expires)) + "}"
                                             : std::string("{}")));
}

void on_connection_expiry(self_ptr self, uint64_t generation) {
  auto& st = self->state;
  if (generation != st.expiry_generation || st.closing || !st.expires)
    return;
  if (*st.expires > unix_now()) {
    arm_expiry(self, *st.expires, generation); // the wall clock was set back
    return;
  }
  close_with(self, close_code::connection_expired, "connection expired");
}

void on_subscription_expiry(self_ptr self, const std::string& channel, uint64_t generation) {
  auto& st = self->state;
  auto it = st.subs.find(channel);
  if (it == st.subs.end() || it->second.expiry_generation != generation || st.closing
      || !it->second.expires)
    return;
  if (*it->second.expires > unix_now()) {
    arm_expiry(self, *it->second.expires, channel, generation);
    return;
  }
  if (it->second.server_side) {
    close_with(self, close_code::subscription_expired, "subscription expired");
    return;
  }
  end_subscription(self, it);
  // 2501: the client resubscribes with a fresh token.
  emit(self,
       protocol::unsubscribe_push(channel, unsubscribe_code::expired, "subscription expired"));
  flush(self);
}

} // namespace herald::gateway
