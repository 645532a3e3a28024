#include "gateway/subscription_sink.hpp"

#include "gateway/session_metrics.hpp"

#include <utility>

namespace herald::gateway {

subscription_sink::subscription_sink(std::weak_ptr<connection> conn,
                                     std::shared_ptr<session_metrics> metrics,
                                     std::shared_ptr<std::atomic<uint64_t>> delivered)
  : conn_(std::move(conn)), metrics_(std::move(metrics)), delivered_(std::move(delivered)) {}

void subscription_sink::deliver(const std::vector<protocol::frame_ptr>& frames) {
  std::lock_guard<std::mutex> lock(mu_);
  switch (phase_) {
    case phase::held:
      held_.insert(held_.end(), frames.begin(), frames.end());
      return;
    case phase::open:
      forward(frames);
      return;
    case phase::closed:
      return;
  }
}

void subscription_sink::open() {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase_ != phase::held)
    return;
  phase_ = phase::open;
  if (!held_.empty())
    forward(std::exchange(held_, {}));
}

void subscription_sink::close() {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = phase::closed;
  held_.clear();
}

// Under mu_, so that the connection queues frames in the order they came.
void subscription_sink::forward(const std::vector<protocol::frame_ptr>& frames) {
  if (frames.empty())
    return;
  *delivered_ += frames.size();
  metrics_->frames_out += frames.size();
  if (auto c = conn_.lock())
    c->send(frames);
}

} // namespace herald::gateway
