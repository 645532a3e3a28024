// The journal stores payloads and metadata as msgpack; readers want JSON.
// This is the journal's side of that conversion: rendering stored msgpack as
// compact JSON (no raw newlines, so a rendered payload can be embedded in a
// newline-delimited protocol frame), and the plain JSON -> msgpack encoder
// for values that were validated before they reached storage. Checking what
// a client sent (well-formed, bounded, writable back as JSON) is the client
// protocol's job: protocol/payload_codec.hpp wraps the encoder with it.
#pragma once

#include <rapidjson/reader.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::storage {

/// A RapidJSON SAX handler appending the msgpack encoding of what it is
/// fed to `out`. Containers get a 5-byte header (map32/array32) whose count
/// is patched when the container ends: valid msgpack, one pass, no DOM. It
/// checks nothing: its caller feeds it validated values.
class msgpack_sax_writer
  : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, msgpack_sax_writer> {
public:
  explicit msgpack_sax_writer(std::string& out) : out_(out) {}

  bool Null();
  bool Bool(bool b);
  bool Int(int i) {
    return Int64(i);
  }
  bool Uint(unsigned u) {
    return Uint64(u);
  }
  bool Int64(int64_t i);
  bool Uint64(uint64_t u);
  bool Double(double d);
  bool String(const char* s, rapidjson::SizeType n, bool copy);
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return String(s, n, copy);
  }
  bool StartObject() {
    return open(0xdf);
  }
  bool EndObject(rapidjson::SizeType members) {
    return close(members);
  }
  bool StartArray() {
    return open(0xdd);
  }
  bool EndArray(rapidjson::SizeType elements) {
    return close(elements);
  }

private:
  bool open(unsigned char tag);
  bool close(rapidjson::SizeType count);

  std::string& out_;
  std::vector<size_t> open_;
};

/// Appends the msgpack encoding of `json`, JSON text that was validated
/// before (finite numbers, valid UTF-8), to `out`. Returns false for text
/// that is not one JSON value; `out` is then unspecified.
bool valid_json_to_msgpack(std::string_view json, std::string& out);

/// Appends the compact JSON rendering of the msgpack value `mp` to `out`.
/// An empty input renders as `null`. Returns false for malformed msgpack.
bool msgpack_to_json(std::string_view mp, std::string& out);

/// Appends `text` as a JSON string literal (quoted and escaped) to `out`.
void append_json_string(std::string& out, std::string_view text);

} // namespace herald::storage
