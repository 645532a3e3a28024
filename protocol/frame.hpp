// An encoded message on its way to clients.
#pragma once

#include <memory>
#include <string>

namespace herald::protocol {

/// A ready-to-send WebSocket text frame (one or more protocol messages),
/// encoded once and shared by every connection that sends it.
using frame_ptr = std::shared_ptr<const std::string>;

} // namespace herald::protocol
