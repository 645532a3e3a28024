#include "net/origin.hpp"

#include <cctype>

namespace herald::net {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

/// "https://*.example.com" admits "https://a.example.com" and
/// "https://b.a.example.com", not "https://example.com" or
/// "https://evilexample.com".
bool matches(std::string_view origin, std::string_view pattern) {
  auto star = pattern.find("://*.");
  if (star == std::string_view::npos)
    return iequals(origin, pattern);
  auto scheme = pattern.substr(0, star + 3);
  auto suffix = pattern.substr(star + 4); // ".example.com"
  if (origin.size() <= scheme.size() + suffix.size())
    return false;
  return iequals(origin.substr(0, scheme.size()), scheme)
         && iequals(origin.substr(origin.size() - suffix.size()), suffix);
}

} // namespace

bool origin_allowed(std::string_view origin, std::string_view host, std::string_view allowed) {
  if (origin.empty())
    return true;
  allowed = trim(allowed);
  if (allowed == "*")
    return true;
  if (allowed.empty()) {
    auto sep = origin.find("://");
    return sep != std::string_view::npos && !host.empty()
           && iequals(origin.substr(sep + 3), trim(host));
  }
  while (!allowed.empty()) {
    auto comma = allowed.find(',');
    if (matches(origin, trim(allowed.substr(0, comma))))
      return true;
    if (comma == std::string_view::npos)
      break;
    allowed.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace herald::net
