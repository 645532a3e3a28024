#include "net/rest_routes.hpp"

namespace herald::net {

namespace {

/// The next segment of `pattern`, consumed; empty at the end.
std::string_view next_segment(std::string_view& pattern) {
  while (!pattern.empty() && pattern.front() == '/')
    pattern.remove_prefix(1);
  auto end = pattern.find('/');
  auto segment = pattern.substr(0, end);
  pattern = end == std::string_view::npos ? std::string_view() : pattern.substr(end);
  return segment;
}

bool is_named(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

} // namespace

bool match_path(std::string_view pattern, const std::vector<std::string>& segments,
                path_params& params) {
  params.clear();
  size_t i = 0;
  for (auto p = next_segment(pattern); !p.empty(); p = next_segment(pattern), ++i) {
    if (p == "**")
      return true;
    if (i == segments.size())
      return false;
    if (is_named(p))
      params.emplace(p.substr(1, p.size() - 2), segments[i]);
    else if (p != segments[i])
      return false;
  }
  return i == segments.size();
}

route_match find_route(const std::vector<route>& table, boost::beast::http::verb method,
                       const std::vector<std::string>& segments) {
  route_match m;
  for (const auto& r : table) {
    if (m.entry ? r.pattern != m.entry->pattern : !match_path(r.pattern, segments, m.params))
      continue;
    if (!m.entry) {
      m.entry = &r;
      m.outcome = route_match::wrong_method;
    }
    if (!r.method || *r.method == method) {
      m.entry = &r;
      m.outcome = route_match::found;
      return m;
    }
  }
  if (!m.entry)
    m.params.clear();
  return m;
}

} // namespace herald::net
