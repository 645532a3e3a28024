// /metrics: Prometheus text exposition of the node's figures, gathered from
// the session counters and the stats answers of the journal, the channel
// registry and the projections (docs/operations.md lists them).
#pragma once

#include "net/server_context.hpp"

#include <functional>
#include <memory>
#include <string>

namespace herald::net {

/// Collects everything and calls `done` with the text (on some actor thread).
void render_metrics(const std::shared_ptr<server_context>& ctx,
                    std::function<void(std::string)> done);

} // namespace herald::net
