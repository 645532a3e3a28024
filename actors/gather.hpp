// Asking every actor of a list the same question and answering with all the
// replies, in list order: the projection and processor managers' status and
// stats. An actor that does not answer within 10 s is reported by name only.
#pragma once

#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace herald::actors {

/// `named` holds (name, actor) pairs; T has a `name` member.
template <class T, class Self, class Named, class Atom>
caf::result<std::vector<T>> gather(Self self, const Named& named, Atom atom) {
  using namespace std::chrono_literals;
  if (named.empty())
    return std::vector<T>{};
  auto promise = self->template make_response_promise<std::vector<T>>();
  auto results = std::make_shared<std::vector<T>>(named.size());
  auto pending = std::make_shared<size_t>(named.size());
  for (size_t i = 0; i < named.size(); ++i)
    self->request(named[i].second, 10s, atom)
      .then(
        [promise, results, pending, i](T& r) mutable {
          (*results)[i] = std::move(r);
          if (--*pending == 0)
            promise.deliver(std::move(*results));
        },
        [promise, results, pending, i, name = named[i].first](const caf::error&) mutable {
          (*results)[i].name = name; // unanswered: reported by name only
          if (--*pending == 0)
            promise.deliver(std::move(*results));
        });
  return promise;
}

} // namespace herald::actors
