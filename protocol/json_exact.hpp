// Reading JSON numbers exactly. herald carries publication data unchanged,
// so a number must come back as the double nearest to what the client
// wrote. RapidJSON 1.1.0 offers two readings and neither will do: the
// default is fast but can be a few ULP off (-1.5e-300 comes back as
// -1.4999999999999998e-300), and kParseFullPrecisionFlag is exact but
// silently wrong past the double range (8e308 becomes -2.5e-308). So the
// reader hands herald the number's text (kParseNumbersAsStringsFlag) and
// strtod, which rounds correctly, converts it; a number past the range
// becomes infinity, which json_value_check and the codec refuse.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace herald::protocol {

/// A RapidJSON SAX handler that passes every event on to `next_` (a
/// handler, or a reference to one). Filters derive from it and hide only
/// the events they look at: RapidJSON calls handlers on their static type.
template <class Next>
class sax_forwarder {
public:
  using Ch = char;

  bool Null() {
    return next_.Null();
  }
  bool Bool(bool b) {
    return next_.Bool(b);
  }
  bool Int(int i) {
    return next_.Int(i);
  }
  bool Uint(unsigned u) {
    return next_.Uint(u);
  }
  bool Int64(int64_t i) {
    return next_.Int64(i);
  }
  bool Uint64(uint64_t u) {
    return next_.Uint64(u);
  }
  bool Double(double d) {
    return next_.Double(d);
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) {
    return next_.String(s, n, copy);
  }
  bool StartObject() {
    return next_.StartObject();
  }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) {
    return next_.Key(s, n, copy);
  }
  bool EndObject(rapidjson::SizeType n) {
    return next_.EndObject(n);
  }
  bool StartArray() {
    return next_.StartArray();
  }
  bool EndArray(rapidjson::SizeType n) {
    return next_.EndArray(n);
  }

protected:
  template <class... Args>
  explicit sax_forwarder(Args&&... args) : next_(std::forward<Args>(args)...) {}

  Next next_;
};

/// A RapidJSON SAX handler that forwards to `Handler`, turning each number's
/// text into an integer when it is one that fits, else a correctly rounded
/// double.
template <class Handler>
class exact_numbers : public sax_forwarder<Handler&> {
public:
  using Ch = char;

  explicit exact_numbers(Handler& next) : sax_forwarder<Handler&>(next) {}

  /// `s` is NUL-terminated (the reader copies it to its stack).
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool) {
    std::string_view text(s, n);
    if (text.find_first_of(".eE") == std::string_view::npos) {
      char* end = nullptr;
      errno = 0;
      if (text[0] == '-') {
        long long i = std::strtoll(s, &end, 10);
        // `-0` stays negative zero (a double), as JavaScript reads it: an
        // integer would render back as `0`.
        if (errno == 0 && end == s + n && i == 0)
          return next_.Double(-0.0);
        if (errno == 0 && end == s + n)
          return next_.Int64(static_cast<int64_t>(i));
      } else {
        unsigned long long u = std::strtoull(s, &end, 10);
        if (errno == 0 && end == s + n)
          return next_.Uint64(static_cast<uint64_t>(u));
      }
      // An integer past 64 bits: a double, as RapidJSON reads it.
    }
    return next_.Double(std::strtod(s, nullptr));
  }

private:
  using sax_forwarder<Handler&>::next_;
};

/// Parses `text` with `Flags` into `handler`, numbers read exactly.
template <unsigned Flags, class Handler>
rapidjson::ParseResult parse_exact(std::string_view text, Handler& handler,
                                   size_t* consumed = nullptr) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  exact_numbers<Handler> exact(handler);
  rapidjson::Reader reader;
  auto result = reader.Parse<Flags | rapidjson::kParseNumbersAsStringsFlag>(is, exact);
  if (consumed)
    *consumed = is.Tell();
  return result;
}

/// Parses `text` into `doc` with `Flags`, numbers read exactly; the result
/// says whether and where it failed (doc.HasParseError() is not set).
template <unsigned Flags>
rapidjson::ParseResult parse_exact(rapidjson::Document& doc, std::string_view text) {
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& d) {
    result = parse_exact<Flags>(text, d);
    return !result.IsError();
  };
  doc.Populate(generate);
  if (result.IsError())
    doc.SetNull();
  return result;
}

} // namespace herald::protocol
