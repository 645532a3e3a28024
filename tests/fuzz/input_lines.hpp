// Splitting a fuzz input into its header lines and the body that follows.
#pragma once

#include <string_view>

namespace herald::fuzz {

/// Takes the text up to the next newline (or the end) off `in`.
inline std::string_view next_line(std::string_view& in) {
  auto nl = in.find('\n');
  auto line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return line;
}

} // namespace herald::fuzz
