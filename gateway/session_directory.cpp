#include "gateway/session_directory.hpp"

namespace herald::gateway {

void session_directory::add(const std::string& user, const std::string& client,
                            session_actor handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  by_user_[user][client] = std::move(handle);
}

void session_directory::remove(const std::string& user, const std::string& client) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_user_.find(user);
  if (it == by_user_.end())
    return;
  it->second.erase(client);
  if (it->second.empty())
    by_user_.erase(it);
}

std::vector<session_directory::listed>
session_directory::sessions_of(const std::string& user, const std::string& client) const {
  std::vector<listed> out;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_user_.find(user);
  if (it == by_user_.end())
    return out;
  for (const auto& [id, handle] : it->second)
    if (client.empty() || id == client)
      out.push_back({id, handle});
  return out;
}

void session_directory::joined(const std::string& channel) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++channels_[channel];
}

void session_directory::left(const std::string& channel) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = channels_.find(channel);
  if (it != channels_.end() && --it->second == 0)
    channels_.erase(it);
}

std::map<std::string, uint64_t> session_directory::channels() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return channels_;
}

uint64_t session_directory::users() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_user_.size();
}

} // namespace herald::gateway
