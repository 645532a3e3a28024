#include "config/channel_rules.hpp"

namespace herald::config {

bool is_private_channel(std::string_view channel) {
  return !channel.empty() && channel.front() == '$';
}

bool is_user_limited(const namespace_settings& ns, std::string_view channel) {
  return ns.user_limited && channel.find('#') != std::string_view::npos;
}

bool lists_user(std::string_view channel, std::string_view user) {
  auto hash = channel.rfind('#');
  if (user.empty() || hash == std::string_view::npos)
    return false;
  std::string_view users = channel.substr(hash + 1);
  while (!users.empty()) {
    auto comma = users.find(',');
    if (users.substr(0, comma) == user)
      return true;
    if (comma == std::string_view::npos)
      break;
    users.remove_prefix(comma + 1);
  }
  return false;
}

bool open_without_token(const namespace_settings& ns, std::string_view channel,
                        std::string_view user) {
  if (is_private_channel(channel))
    return false;
  if (is_user_limited(ns, channel))
    return lists_user(channel, user);
  return true;
}

} // namespace herald::config
