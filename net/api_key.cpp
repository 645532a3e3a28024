#include "net/api_key.hpp"
#include "net/http_util.hpp"

#include <cctype>

namespace herald::net {

namespace {

bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

} // namespace

bool same_api_key(std::string_view presented, std::string_view key) {
  return same_secret(presented, key);
}

bool has_api_key(const http_request& req, std::string_view key) {
  if (key.empty())
    return true;
  auto header = req.find("X-API-Key");
  if (header != req.end())
    return same_secret(as_std(header->value()), key);
  auto auth = req.find(boost::beast::http::field::authorization);
  if (auth == req.end())
    return false;
  auto value = as_std(auth->value());
  constexpr std::string_view scheme = "apikey ";
  if (value.size() <= scheme.size())
    return false;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i])
      return false;
  return same_secret(value.substr(scheme.size()), key);
}

} // namespace herald::net
