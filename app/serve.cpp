#include "app/serve.hpp"

#include "actors/node.hpp"
#include "actors/session_actor.hpp"
#include "actors/system_config.hpp"
#include "net/server.hpp"

#include <caf/actor_system.hpp>

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <pthread.h>

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

} // namespace

int serve(const config::settings& s) {
  std::shared_ptr<const actors::token_verifier> tokens;
  try {
    tokens = std::make_shared<const actors::token_verifier>(
      actors::token_keys{s.tokens.hmac_secret, s.tokens.rsa_public_key, s.tokens.ecdsa_public_key,
                         s.tokens.audience, s.tokens.issuer});
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "herald: %s: %s\n", s.source.c_str(), e.what());
    return 2;
  }
  auto signals = block_stop_signals();
  auto settings = std::make_shared<const config::settings>(s);
  actors::system_config cfg(*settings);
  caf::actor_system sys(cfg);
  auto ctx = std::make_shared<actors::session_context>();
  ctx->settings = settings;
  ctx->metrics = std::make_shared<actors::session_metrics>();
  ctx->tokens = tokens;
  ctx->version = std::string("herald ") + HERALD_VERSION;
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
  auto node = actors::start_node(sys, *settings);
  ctx->handles = node;
  server->start();
  auto ep = server->local_endpoint();
  if (s.http.api_key.empty() && !ep.address().is_loopback())
    spdlog::warn("http.api_key is not set and the node listens on {}: anyone who reaches it "
                 "may append, read the journal and administer projections",
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
