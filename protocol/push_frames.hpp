// The pushes a channel sends, encoded once per event as the WebSocket client
// protocol's JSON (docs/protocol.md): a publication carries the
// publisher's data unchanged, its offset (the stream version), the
// publisher's ClientInfo, and tags with the event type and global position.
#pragma once

#include "protocol/client_info.hpp"
#include "protocol/frame.hpp"
#include "storage/event.hpp"

#include <string>

namespace herald::protocol {

/// {"push":{"channel":C,"pub":{"data":...,"offset":N,"info":{...},"tags":{...}}}}
frame_ptr publication_frame(const storage::recorded_event& e);

/// The Publication object alone, as history and recovery replies embed it.
void append_publication(std::string& out, const storage::recorded_event& e);

/// {"push":{"channel":C,"join":{"info":{...}}}} (or "leave").
frame_ptr join_leave_frame(const std::string& channel, const client_info& info, bool join);

/// A ClientInfo object; empty fields are left out.
void append_client_info(std::string& out, const client_info& info);

} // namespace herald::protocol
