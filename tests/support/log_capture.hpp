// Collects what herald logs (spdlog's default logger) while it lives, for
// tests of what operators are told. Link spdlog::spdlog.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>

namespace herald::test {

class log_capture {
public:
  log_capture() : sink_(std::make_shared<sink>()), previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~log_capture() {
    spdlog::set_default_logger(previous_);
  }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  /// Everything logged so far (safe while other threads log).
  std::string text() {
    return sink_->text();
  }

  /// How often `what` occurs in the log so far.
  size_t count(const std::string& what) {
    auto all = text();
    size_t n = 0;
    for (auto at = all.find(what); at != std::string::npos; at = all.find(what, at + 1))
      ++n;
    return n;
  }

private:
  class sink : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::string text() {
      std::lock_guard<std::mutex> lock(mutex_);
      return text_;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      spdlog::memory_buf_t out;
      formatter_->format(msg, out);
      text_.append(out.data(), out.size());
    }
    void flush_() override {}

  private:
    std::string text_;
  };

  std::shared_ptr<sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

} // namespace herald::test
