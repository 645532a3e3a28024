// The header of a WebSocket frame as a server sends it (RFC 6455 §5.2):
// unmasked, with the payload length in its 7-, 16- or 64-bit form. Lets
// the WebSocket connection frame a message itself and send it with one
// system call; Beast reads what it writes (tests/protocol/ws_frame_test.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace herald::protocol {

enum class ws_opcode : uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// Room for the longest header: 2 bytes, then 8 of length.
inline constexpr size_t max_ws_header_size = 10;
using ws_header = std::array<char, max_ws_header_size>;

/// Writes into `out` the header of a frame carrying `payload_length`
/// bytes, the last of its message when `fin`; returns its size (2, 4 or
/// 10 bytes).
size_t encode_ws_header(ws_header& out, ws_opcode opcode, bool fin, uint64_t payload_length);

} // namespace herald::protocol
