// The server's WebSocket frame header (protocol/ws_frame.hpp), checked
// byte by byte and then read back by Beast's own client-side reader: each
// frame is written raw under a WebSocket stream that completed its opening
// handshake, as ws_connection writes it under Beast.
#include "protocol/ws_frame.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace herald::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using protocol::encode_ws_header;
using protocol::ws_header;
using protocol::ws_opcode;

std::vector<uint8_t> header_bytes(ws_opcode opcode, bool fin, uint64_t length) {
  ws_header h{};
  auto size = encode_ws_header(h, opcode, fin, length);
  return {h.begin(), h.begin() + static_cast<std::ptrdiff_t>(size)};
}

TEST(ws_frame, lengths_take_their_shortest_form) {
  using bytes = std::vector<uint8_t>;
  EXPECT_EQ(header_bytes(ws_opcode::text, true, 0), (bytes{0x81, 0x00}));
  EXPECT_EQ(header_bytes(ws_opcode::text, true, 125), (bytes{0x81, 125}));
  EXPECT_EQ(header_bytes(ws_opcode::text, true, 126), (bytes{0x81, 126, 0x00, 126}));
  EXPECT_EQ(header_bytes(ws_opcode::text, true, 65535), (bytes{0x81, 126, 0xff, 0xff}));
  EXPECT_EQ(header_bytes(ws_opcode::text, true, 65536),
            (bytes{0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  EXPECT_EQ(header_bytes(ws_opcode::binary, true, 0x0102030405060708),
            (bytes{0x82, 127, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(ws_frame, fin_and_opcode_share_the_first_byte) {
  EXPECT_EQ(header_bytes(ws_opcode::text, false, 1)[0], 0x01);
  EXPECT_EQ(header_bytes(ws_opcode::continuation, true, 1)[0], 0x80);
  EXPECT_EQ(header_bytes(ws_opcode::close, true, 2)[0], 0x88);
  EXPECT_EQ(header_bytes(ws_opcode::pong, true, 0)[0], 0x8A);
}

/// A server and a client connected through Beast's in-memory test stream,
/// past the opening handshake. The test writes raw frames to `server`.
class beast_reader : public ::testing::Test {
protected:
  void SetUp() override {
    server_ws.async_accept([](beast::error_code ec) { ASSERT_FALSE(ec) << ec.message(); });
    client.async_handshake("localhost", "/",
                           [](beast::error_code ec) { ASSERT_FALSE(ec) << ec.message(); });
    ioc.run();
    client.read_message_max(64u << 20);
  }

  /// Writes one frame through encode_ws_header.
  void write_frame(ws_opcode opcode, bool fin, const std::string& payload) {
    ws_header h{};
    auto size = encode_ws_header(h, opcode, fin, payload.size());
    std::vector<asio::const_buffer> frame{asio::buffer(h.data(), size), asio::buffer(payload)};
    asio::write(server, frame);
  }

  /// The next message the client reads. Bounded: a header announcing the
  /// wrong length would leave the reader waiting for bytes that never come.
  std::string read_message() {
    beast::flat_buffer buffer;
    bool done = false;
    client.async_read(buffer, [&](beast::error_code ec, size_t) {
      EXPECT_FALSE(ec) << ec.message();
      done = true;
    });
    ioc.restart();
    ioc.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(done) << "no whole message within 10 s";
    if (!done) {
      server.close(); // ends the pending read, so that nothing outlives the test
      ioc.restart();
      ioc.run();
    }
    return beast::buffers_to_string(buffer.data());
  }

  asio::io_context ioc;
  beast::test::stream server{ioc};
  beast::test::stream client_end{ioc};
  bool connected = (server.connect(client_end), true);
  websocket::stream<beast::test::stream&> server_ws{server};
  websocket::stream<beast::test::stream&> client{client_end};
};

TEST_F(beast_reader, reads_text_frames_of_every_length_form) {
  for (size_t length : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535},
                        size_t{65536}, size_t{(4u << 20) + 3}}) {
    std::string payload(length, 'a');
    for (size_t i = 0; i < length; ++i)
      payload[i] = static_cast<char>('a' + i % 26); // the reader checks UTF-8 and sees order
    write_frame(ws_opcode::text, true, payload);
    EXPECT_EQ(read_message(), payload) << length;
    EXPECT_TRUE(client.got_text()) << length;
  }
}

TEST_F(beast_reader, reads_binary_frames) {
  std::string payload(70000, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(i * 7);
  write_frame(ws_opcode::binary, true, payload);
  EXPECT_EQ(read_message(), payload);
  EXPECT_TRUE(client.got_binary());
}

TEST_F(beast_reader, joins_a_message_split_over_frames) {
  write_frame(ws_opcode::text, false, std::string(200, 'x'));
  write_frame(ws_opcode::continuation, false, "");
  write_frame(ws_opcode::continuation, true, std::string(70000, 'y'));
  EXPECT_EQ(read_message(), std::string(200, 'x') + std::string(70000, 'y'));
  EXPECT_TRUE(client.got_text());
}

TEST_F(beast_reader, frames_follow_each_other_on_one_stream) {
  write_frame(ws_opcode::text, true, "first");
  write_frame(ws_opcode::text, true, std::string(300, 'm'));
  write_frame(ws_opcode::text, true, "");
  EXPECT_EQ(read_message(), "first");
  EXPECT_EQ(read_message(), std::string(300, 'm'));
  EXPECT_EQ(read_message(), "");
}

} // namespace
} // namespace herald::test
