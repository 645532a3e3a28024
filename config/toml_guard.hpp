// A pass over TOML text before toml++ reads it. toml++ 3.3.0, the version
// Debian 12 ships, reaches __builtin_unreachable (undefined behaviour) when
// it asks whether some non-ASCII characters (U+00A1..U+0499, U+2D3E..U+3137,
// U+FBFE..U+FEFE) are whitespace; fixed upstream after 3.3.0. It asks that
// outside strings and comments (also of each character of a bare value such
// as a number, up to the next whitespace), of the character right after a
// backslash in a multi-line basic string, after a line-ending backslash
// (which trims the whitespace that follows) of the first character it keeps,
// and past a date followed by a space and a digit (where a date-time may
// go on) up to the next terminator, whatever comes in between.
// Found by the config fuzz target (tests/fuzz/regressions/config/). The pass
// keeps toml++ from meeting a non-ASCII character in those places, without
// changing what a valid document means: there TOML allows none, except after
// a line-ending backslash, where the character is written as an escape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::config {

struct guarded_toml {
  /// The text to parse: the input, except that a non-ASCII character
  /// starting what a line-ending backslash leaves of a multi-line basic
  /// string is written as the escape \UXXXXXXXX (the same string).
  std::string text;
  /// The 1-based line of a non-ASCII character where TOML never allows one
  /// and toml++ would test it: outside strings and comments, or right after
  /// a backslash in a multi-line basic string; 0 if none.
  int64_t bad_line = 0;
  std::string problem; ///< what is wrong there, when bad_line is set
};

guarded_toml guard_toml(std::string_view text);

} // namespace herald::config
