#include "net/io_loop.hpp"

#include "net/ws_connection.hpp"

#include <boost/asio/post.hpp>

namespace herald::net {

io_loop::io_loop() : ioc_(1) {} // the hint: one thread runs it

void io_loop::write_soon(std::shared_ptr<ws_connection> c) {
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    due_.push_back(std::move(c));
    post = !flush_posted_;
    flush_posted_ = true;
  }
  if (post)
    boost::asio::post(ioc_, [this] { flush(); });
}

void io_loop::flush() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    flushing_.swap(due_);
    flush_posted_ = false;
  }
  for (auto& c : flushing_)
    c->take_handover();
  flushing_.clear();
}

} // namespace herald::net
