#include "app/serve.hpp"

#include "actors/node.hpp"
#include "actors/system_config.hpp"
#include "gateway/session_actor.hpp"
#include "gateway/session_directory.hpp"
#include "gateway/type_ids.hpp"
#include "net/server.hpp"

#include <caf/actor_system.hpp>

#include <spdlog/spdlog.h>

#include <sys/file.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <pthread.h>
#include <string>

namespace herald::app {

namespace {

/// Blocks SIGINT and SIGTERM in every thread started from here on, so that
/// the main thread alone receives them (with sigwait).
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

/// One node per data directory: an exclusive flock on <data_dir>/herald.lock,
/// held until the process ends. The kernel drops it when the process dies,
/// even by kill -9, so a crashed node can be restarted at once; a second node
/// would otherwise share the journal and fail every append. The file records
/// the holder's pid for the refusal message.
class data_dir_lock {
public:
  /// Returns an empty string when the directory is ours, else why not (one
  /// line). A directory herald cannot write is left to the journal, which
  /// refuses it with its own, more useful, message.
  std::string acquire(const std::string& data_dir) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    const std::string path = (std::filesystem::path(data_dir) / "herald.lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    const bool writable = fd_ >= 0;
    if (!writable)
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      return {};
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return "the data directory " + data_dir + " is in use by another herald" + holder()
               + "; each node needs a data directory of its own";
      return "cannot lock the data directory " + data_dir + ": " + std::strerror(errno);
    }
    if (writable)
      record_pid();
    return {};
  }

  ~data_dir_lock() {
    if (fd_ >= 0)
      ::close(fd_);
  }

private:
  void record_pid() {
    const std::string pid = std::to_string(::getpid()) + "\n";
    bool recorded = ::ftruncate(fd_, 0) == 0
                    && ::pwrite(fd_, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size());
    (void) recorded; // only informative: a refusal names the pid when it was recorded
  }

  /// " (pid N)" as the holder recorded it, or nothing.
  std::string holder() const {
    char buf[32] = {};
    ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::string pid(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!pid.empty() && pid.back() == '\n')
      pid.pop_back();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
      return {};
    return " (pid " + pid + ")";
  }

  int fd_ = -1;
};

} // namespace

int serve(const config::settings& s) {
  std::shared_ptr<const gateway::token_verifier> tokens;
  try {
    tokens = std::make_shared<const gateway::token_verifier>(
      gateway::token_keys{s.tokens.hmac_secret, s.tokens.rsa_public_key, s.tokens.ecdsa_public_key,
                          s.tokens.audience, s.tokens.issuer});
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "herald: %s: %s\n", s.source.c_str(), e.what());
    return 2;
  }
  auto signals = block_stop_signals();
  auto settings = std::make_shared<const config::settings>(s);
  actors::system_config cfg(*settings);
  cfg.add_message_types<caf::id_block::herald_gateway>(); // the sessions' own atoms
  caf::actor_system sys(cfg);
  auto ctx = std::make_shared<gateway::session_context>();
  ctx->settings = settings;
  ctx->metrics = std::make_shared<gateway::session_metrics>();
  ctx->tokens = tokens;
  ctx->version = std::string("herald ") + HERALD_VERSION;
  ctx->directory = std::make_shared<gateway::session_directory>();
  // Bind before the node creates the data directory and the journal: a
  // port in use then leaves nothing behind. Sessions read ctx->handles only
  // once start() runs the I/O threads.
  std::unique_ptr<net::server> server;
  try {
    server = std::make_unique<net::server>(sys, ctx);
  } catch (const std::system_error& e) {
    spdlog::critical("{}", e.what()); // what() already ends with the reason
    return 1;
  }
  // The lock creates the data directory if need be, so it comes after the
  // bind; it must come before the node opens the journal.
  data_dir_lock lock;
  if (auto refused = lock.acquire(s.server.data_dir); !refused.empty()) {
    std::fprintf(stderr, "herald: %s\n", refused.c_str());
    return 1;
  }
  auto node = actors::start_node(sys, *settings);
  ctx->handles = node;
  server->start();
  auto ep = server->local_endpoint();
  if (s.http.api_key.empty() && !ep.address().is_loopback())
    spdlog::warn("http.api_key is not set and the node listens on {}: anyone who reaches it "
                 "may append, read the journal, administer projections and use the server API "
                 "(publish anywhere, disconnect users)",
                 ep.address().to_string());
  spdlog::info("herald {} listening on http://{}:{} (journal {}, data in {})", HERALD_VERSION,
               ep.address().to_string(), ep.port(), node.journal_id, s.server.data_dir);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("{}: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  // Stop accepting and close sessions (3001), then stop the node's actors:
  // the journal finishes the batch in flight before it goes.
  server->stop(std::chrono::seconds(3));
  server.reset();
  actors::stop_node(node);
  spdlog::info("stopped");
  return 0;
}

} // namespace herald::app
