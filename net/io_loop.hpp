// One network I/O thread's loop. Each loop's io_context is run by exactly
// one thread, and a socket stays on the loop that accepted it: whatever a
// connection does runs on that thread, in order, with no strand between.
//
// Writes are flushed once per turn. A connection that has frames to send
// (handed over from a channel's or a session's thread) goes on its loop's
// due list, and one posted flush writes every connection on the list, each
// with everything it has in one message: under fan-out a post (and a strand
// dispatch) per connection per committed batch cost more than the write.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace herald::net {

class ws_connection;

class io_loop {
public:
  io_loop();
  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  boost::asio::io_context& context() {
    return ioc_;
  }

  /// From any thread: `c` writes what it has at the loop's next flush.
  void write_soon(std::shared_ptr<ws_connection> c);

private:
  void flush();

  boost::asio::io_context ioc_;
  std::mutex mu_;
  std::vector<std::shared_ptr<ws_connection>> due_;
  std::vector<std::shared_ptr<ws_connection>> flushing_; ///< loop thread only
  bool flush_posted_ = false;
};

} // namespace herald::net
