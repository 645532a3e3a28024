#include "actors/errors.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace herald::actors {

std::string to_string(errc code) {
  switch (code) {
    case errc::overloaded:
      return "overloaded";
    case errc::unavailable:
      return "unavailable";
    case errc::damaged:
      return "damaged";
    case errc::bad_request:
      return "bad_request";
    case errc::not_found:
      return "not_found";
    case errc::timeout:
      return "timeout";
    case errc::internal:
      return "internal";
  }
  return "internal";
}

errc code_of(const caf::error& e) {
  if (e.category() == caf::atom("herald"))
    return static_cast<errc>(e.code());
  if (e.category() == caf::atom("system")) {
    auto s = static_cast<caf::sec>(e.code());
    if (s == caf::sec::request_timeout)
      return errc::timeout;
    if (s == caf::sec::request_receiver_down)
      return errc::unavailable;
  }
  return errc::internal;
}

std::string message_of(const caf::error& e) {
  const auto& ctx = e.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  if (e.category() == caf::atom("herald"))
    return to_string(static_cast<errc>(e.code()));
  return caf::to_string(e);
}

caf::error from_failure(const storage::failure& f) {
  switch (f.code()) {
    case storage::errc::io:
    case storage::errc::busy:
      return caf::make_error(errc::unavailable, std::string(f.what()));
    case storage::errc::corrupt:
    case storage::errc::not_a_journal:
    case storage::errc::format_too_new:
      return caf::make_error(errc::damaged, std::string(f.what()));
    case storage::errc::invalid_argument:
      return caf::make_error(errc::bad_request, std::string(f.what()));
    case storage::errc::internal:
      break;
  }
  return caf::make_error(errc::internal, std::string(f.what()));
}

} // namespace herald::actors
