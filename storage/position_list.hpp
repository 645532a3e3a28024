// The `positions` blob of a stream chunk: LEB128 varints holding the first
// position and then the gap to each next one (docs/journal-format.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::storage {

inline void append_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

/// Encodes increasing positions.
inline std::string encode_positions(const std::vector<uint64_t>& positions) {
  std::string out;
  uint64_t previous = 0;
  for (auto p : positions) {
    append_varint(out, p - previous);
    previous = p;
  }
  return out;
}

/// Decodes a blob; returns false when it is malformed (damage).
inline bool decode_positions(std::string_view blob, std::vector<uint64_t>& out) {
  uint64_t previous = 0;
  size_t i = 0;
  while (i < blob.size()) {
    uint64_t v = 0;
    int shift = 0;
    for (;;) {
      if (i >= blob.size() || shift > 63)
        return false;
      auto byte = static_cast<uint8_t>(blob[i++]);
      v |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80))
        break;
      shift += 7;
    }
    previous += v;
    out.push_back(previous);
  }
  return true;
}

} // namespace herald::storage
