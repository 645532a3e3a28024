// Who is connected, for the server API (net/server_api*.cpp): the sessions
// of each user, so that `subscribe`, `unsubscribe`, `disconnect` and
// `refresh` reach a user's live connections, and how many clients each
// channel has on this node (`channels`, `info`). Sessions add and remove
// themselves; anyone may read. Thread-safe: one mutex, taken on connect,
// disconnect, subscribe and unsubscribe only (never per delivery).
#pragma once

#include "gateway/session_actor.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace herald::gateway {

class session_directory {
public:
  /// A connected session of a user.
  struct listed {
    std::string client;
    session_actor handle;
  };

  /// A session whose connect completed, for a non-empty user.
  void add(const std::string& user, const std::string& client, session_actor handle);
  void remove(const std::string& user, const std::string& client);

  /// The sessions of `user`; only the one with id `client` when that is not
  /// empty.
  std::vector<listed> sessions_of(const std::string& user, const std::string& client) const;

  /// A session's subscription to `channel` took effect / ended.
  void joined(const std::string& channel);
  void left(const std::string& channel);

  /// Channels with at least one subscribed client on this node, and how
  /// many.
  std::map<std::string, uint64_t> channels() const;

  /// Distinct users with a connected session.
  uint64_t users() const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::string, session_actor>> by_user_;
  std::map<std::string, uint64_t> channels_;
};

} // namespace herald::gateway
