// The atoms only a client gateway uses: what a WebSocket connection and its
// session actor tell each other, and the session's own timers. A CAF
// type-id block of their own, numbered after the core's
// (actors/type_ids.hpp), so the core knows nothing of connections; the
// binary registers both blocks (app/serve.cpp).
#pragma once

#include "actors/type_ids.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(herald_gateway, caf::id_block::herald::end)

  // connection -> session: a complete text message from the client
  CAF_ADD_ATOM(herald_gateway, herald::gateway, frame_atom, "h_frame")
  // connection -> session: close with this code and reason
  CAF_ADD_ATOM(herald_gateway, herald::gateway, close_atom, "h_close")
  // connection -> session: everything queued is written
  CAF_ADD_ATOM(herald_gateway, herald::gateway, drain_atom, "h_drain")
  // session timers: the connect deadline, a token's expiry
  CAF_ADD_ATOM(herald_gateway, herald::gateway, loaded_atom, "h_loaded")
  CAF_ADD_ATOM(herald_gateway, herald::gateway, expire_atom, "h_expire")
  // server API -> session: subscribe to / unsubscribe from a channel, refresh
  CAF_ADD_ATOM(herald_gateway, herald::gateway, server_subscribe_atom, "h_ssub")
  CAF_ADD_ATOM(herald_gateway, herald::gateway, server_unsubscribe_atom, "h_sunsub")
  CAF_ADD_ATOM(herald_gateway, herald::gateway, server_refresh_atom, "h_srefr")

CAF_END_TYPE_ID_BLOCK(herald_gateway)
