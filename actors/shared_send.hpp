// Sending one prebuilt message to many actors. CAF messages are
// copy-on-write, so every receiver shares the same payload: a batch or a
// frame list is built once however many listeners or subscribers get it.
#pragma once

#include <caf/actor_cast.hpp>
#include <caf/message.hpp>
#include <caf/message_id.hpp>

namespace herald::actors {

/// Enqueues `msg` at `dest` with `self` as the sender (typed actors may not
/// send() to untyped handles, and anon_send would hide who sent it).
template <class Self, class Dest>
void send_shared(Self* self, const Dest& dest, const caf::message& msg) {
  auto ptr = caf::actor_cast<caf::strong_actor_ptr>(dest);
  if (ptr)
    ptr->enqueue(self->ctrl(), caf::make_message_id(), msg, self->context());
}

} // namespace herald::actors
