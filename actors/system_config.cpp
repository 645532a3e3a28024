#include "actors/system_config.hpp"

#include "actors/errors.hpp"
#include "actors/type_ids.hpp"

namespace herald::actors {

namespace {

const config::settings& defaults() {
  static const config::settings s;
  return s;
}

} // namespace

system_config::system_config() : system_config(defaults()) {}

system_config::system_config(const config::settings& s) {
  add_message_types<caf::id_block::herald>();
  add_error_category(caf::atom("herald"),
                     [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                       auto text = "herald: " + to_string(static_cast<errc>(code));
                       if (ctx.size() == 1 && ctx.match_element<std::string>(0))
                         text += " (" + ctx.get_as<std::string>(0) + ")";
                       return text;
                     });
  set("scheduler.max-threads", static_cast<size_t>(s.server.scheduler_threads));
  set("work-stealing.moderate-poll-attempts", size_t{0});
  set("logger.verbosity", caf::atom("quiet"));
}

} // namespace herald::actors
