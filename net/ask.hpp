// Calling the node's actors from network code, which runs on I/O threads and
// must never block: a short-lived actor makes the request and hands the
// answer (or the error) to a callback, on the actor's thread; callers post
// from there to their own I/O loop.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <chrono>
#include <functional>

namespace herald::net {

template <class Result, class Dest, class... Ts>
void ask(caf::actor_system& sys, const Dest& dest, std::chrono::milliseconds timeout,
         std::function<void(Result&)> on_result, std::function<void(const caf::error&)> on_error,
         Ts... xs) {
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(dest, timeout, xs...)
      .then([=](Result& r) { on_result(r); }, [=](const caf::error& e) { on_error(e); });
  });
}

} // namespace herald::net
