#include "app/serve.hpp"

#include "storage/journal.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

namespace herald::app {

int serve(const config::settings& s) {
  std::filesystem::create_directories(s.server.data_dir);
  storage::journal_options jo;
  jo.path = (std::filesystem::path(s.server.data_dir) / "journal.db").string();
  jo.durability = s.journal.mode;
  jo.stream_cache = static_cast<size_t>(s.journal.stream_cache);
  jo.verify_on_open = s.journal.verify_on_open;
  storage::journal j(jo);
  spdlog::info("journal {} at {} (head position {})", j.id(), j.path(), j.head());
  spdlog::error("herald serve: the network edge is not built yet");
  return 1;
}

} // namespace herald::app
