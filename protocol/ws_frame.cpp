#include "protocol/ws_frame.hpp"

namespace herald::protocol {

namespace {

/// The second byte's length codes that announce a longer length field.
constexpr uint8_t length_16_bit = 126;
constexpr uint8_t length_64_bit = 127;

/// Writes the low `bytes` bytes of `value` at `at`, most significant first.
void put_big_endian(char* at, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i)
    at[i] = static_cast<char>((value >> (8 * (bytes - 1 - i))) & 0xff);
}

} // namespace

size_t encode_ws_header(ws_header& out, ws_opcode opcode, bool fin, uint64_t payload_length) {
  out[0] = static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode));
  // The mask bit of the second byte stays 0: servers do not mask.
  if (payload_length < length_16_bit) {
    out[1] = static_cast<char>(payload_length);
    return 2;
  }
  if (payload_length <= 0xffff) {
    out[1] = static_cast<char>(length_16_bit);
    put_big_endian(&out[2], payload_length, 2);
    return 4;
  }
  out[1] = static_cast<char>(length_64_bit);
  put_big_endian(&out[2], payload_length, 8);
  return 10;
}

} // namespace herald::protocol
