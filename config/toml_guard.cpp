#include "config/toml_guard.hpp"

#include <cstdio>

namespace herald::config {

namespace {

bool ascii(char c) {
  return static_cast<unsigned char>(c) < 0x80;
}

bool one_of(char c, std::string_view set) {
  return set.find(c) != std::string_view::npos;
}

/// The code point of the UTF-8 sequence at `in[i]` and its length, or a
/// length of 0 when it is not valid UTF-8 (toml++ then reports it).
struct decoded {
  uint32_t code_point = 0;
  size_t length = 0;
};

decoded decode_utf8(std::string_view in, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  const unsigned char lead = byte(i);
  size_t n = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
  if (n == 0 || lead > 0xf4 || i + n > in.size())
    return {};
  uint32_t cp = lead & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80)
      return {};
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  static constexpr uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < smallest[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return {};
  return {cp, n};
}

class scanner {
public:
  explicit scanner(std::string_view in) : in_(in) {
    out_.text.reserve(in.size());
  }

  guarded_toml run() {
    if (at("\xef\xbb\xbf"))
      copy(3); // a byte order mark, which toml++ skips
    while (i_ < in_.size() && out_.bad_line == 0) {
      char c = in_[i_];
      if (!ascii(c)) {
        refuse(outside);
      } else if (c == '#') {
        comment();
      } else if (c == '"' || c == '\'') {
        // Where a key or a value starts, and also after a whole value, where
        // toml++ stops at the quote itself with an error.
        string(c);
        if (next_ == next::value)
          next_ = next::after;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        copy();
      } else if (c == '\n') {
        newline();
      } else if (next_ == next::value && !one_of(c, "[{=,]}")) {
        bare_value();
      } else {
        structure(c);
      }
    }
    return std::move(out_);
  }

private:
  static constexpr const char* outside = "a non-ASCII character outside a string or a comment";

  void refuse(const char* problem) {
    out_.bad_line = line_;
    out_.problem = problem;
  }

  /// What toml++ reads next: a key (or a dotted key's next part), a value,
  /// or nothing more (the value ended; a newline, `,` or a closing bracket).
  enum class next { key, value, after };

  void newline() {
    copy();
    if (open_.empty() || open_.back() == 'h') {
      open_.clear(); // a table header does not go past its line
      next_ = next::key;
    }
  }

  /// A value that is not a string, an array or an inline table: a number,
  /// a boolean, a date. toml++ reads it up to the next whitespace, `]`,
  /// `}`, `,` or `#`, testing each character for whitespace, so a quote in
  /// it starts no string ("5\"...") and a non-ASCII character is refused.
  void bare_value() {
    const size_t start = i_;
    if (!bare_characters())
      return;
    // A date followed by a space and a digit may be a date-time written
    // with a space ("1979-05-27 07:32:00"): toml++ then takes the space,
    // the digit and the next character whatever they are, and reads on
    // to the next terminator, testing each character for whitespace.
    if (date_then_space_digit(start)) {
      copy(2);
      if (i_ >= in_.size() || one_of(in_[i_], " \t\n\v\f\r]},#")) {
        refuse("a date followed by a space and a digit that is no date-time");
        return;
      }
      if (!bare_characters())
        return;
    }
    next_ = next::after;
  }

  /// Copies characters up to the next terminator; false (refused) at a
  /// non-ASCII one.
  bool bare_characters() {
    while (i_ < in_.size() && !one_of(in_[i_], " \t\n\v\f\r]},#")) {
      if (!ascii(in_[i_])) {
        refuse(outside);
        return false;
      }
      copy();
    }
    return true;
  }

  /// Whether the bare value from `start` to here may be what toml++ takes
  /// for a date and is followed by a space and a digit. toml++ looks at
  /// ten characters besides `_`, a digit first and `-` at the fifth and
  /// eighth, and at traits only: most punctuation and letters add none, so
  /// "1979-05-&7" passes too (found by fuzzing). This test is wider still
  /// (any other characters): a bare value followed by a space and a digit
  /// is no TOML unless it is a date-time, so reading on as toml++ might
  /// refuses nothing valid.
  bool date_then_space_digit(size_t start) const {
    std::string chars;
    for (size_t k = start; k < i_; ++k)
      if (in_[k] != '_')
        chars += in_[k];
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (chars.size() != 10 || !digit(chars[0]) || chars[4] != '-' || chars[7] != '-')
      return false;
    return i_ + 1 < in_.size() && in_[i_] == ' ' && digit(in_[i_ + 1]);
  }

  /// `[`, `]`, `{`, `}`, `=`, `,` and the characters of bare keys.
  void structure(char c) {
    switch (c) {
      case '=':
        next_ = next::value;
        break;
      case '[':
        if (next_ == next::value) {
          open_.push_back('[');
        } else if (next_ == next::key && (open_.empty() || open_.back() == 'h')) {
          open_.push_back('h'); // a table header, [a] or [[a]]
        }
        break;
      case '{':
        if (next_ == next::value) {
          open_.push_back('{');
          next_ = next::key;
        }
        break;
      case ',':
        if (!open_.empty() && open_.back() != 'h')
          next_ = open_.back() == '[' ? next::value : next::key;
        break;
      case ']':
      case '}':
        if (!open_.empty() && open_.back() == (c == ']' ? '[' : '{')) {
          open_.pop_back();
          next_ = next::after;
        } else if (c == ']' && !open_.empty() && open_.back() == 'h') {
          open_.pop_back();
        }
        break;
      default:
        break; // a bare key's characters, a dot, or something toml++ refuses
    }
    copy();
  }

  bool at(std::string_view s) const {
    return in_.substr(i_, s.size()) == s;
  }

  void copy(size_t n = 1) {
    for (size_t k = 0; k < n && i_ < in_.size(); ++k, ++i_) {
      if (in_[i_] == '\n')
        ++line_;
      out_.text.push_back(in_[i_]);
    }
  }

  void comment() {
    while (i_ < in_.size() && in_[i_] != '\n')
      copy();
  }

  /// A string from its opening quote to its closing one; a single-line one
  /// also ends before a newline.
  void string(char quote) {
    const std::string triple(3, quote);
    const bool multi = at(triple);
    const bool basic = quote == '"';
    copy(multi ? 3 : 1);
    while (i_ < in_.size()) {
      char c = in_[i_];
      if (multi && at(triple)) {
        copy(3);
        // Up to two more quotes belong to the string: """a""""" is a"".
        for (int k = 0; k < 2 && i_ < in_.size() && in_[i_] == quote; ++k)
          copy();
        return;
      }
      if (!multi && c == '\n')
        return; // unclosed: toml++ says so, and the newline is the caller's
      if (!multi && c == quote) {
        copy();
        return;
      }
      if (basic && c == '\\') {
        escape(multi);
        continue;
      }
      copy();
    }
  }

  /// A backslash in a basic string and what it escapes. In a multi-line one
  /// a backslash and whitespace trim all whitespace after them; a non-ASCII
  /// character after that is rewritten as an escape of itself.
  void escape(bool multi) {
    copy(); // the backslash
    if (i_ >= in_.size())
      return;
    auto space = [&](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    if (!multi && in_[i_] == '\n')
      return; // the string ends unclosed here, as toml++ will say
    if (multi && !ascii(in_[i_])) {
      // toml++ tests it for whitespace; no escape sequence starts so.
      refuse("a backslash before a non-ASCII character, which is no escape sequence");
      return;
    }
    if (!multi || !space(in_[i_])) {
      copy(); // the escaped character: \" and \\ do not end or start anything
      return;
    }
    while (i_ < in_.size() && space(in_[i_]))
      copy();
    if (i_ >= in_.size() || ascii(in_[i_]))
      return;
    auto d = decode_utf8(in_, i_);
    if (d.length == 0) {
      copy();
      return;
    }
    char escaped[11];
    std::snprintf(escaped, sizeof escaped, "\\U%08X", static_cast<unsigned>(d.code_point));
    out_.text.append(escaped, 10);
    i_ += d.length;
  }

  std::string_view in_;
  size_t i_ = 0;
  int64_t line_ = 1;
  next next_ = next::key;
  std::string open_; ///< open brackets: '[' array, '{' inline table, 'h' header
  guarded_toml out_;
};

} // namespace

guarded_toml guard_toml(std::string_view text) {
  return scanner(text).run();
}

} // namespace herald::config
