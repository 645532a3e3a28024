// The demo page's files, embedded into the binary at build time from
// web/dist (cmake/embed_web.cmake): `herald serve` needs no files beside it.
#pragma once

#include <string_view>

namespace herald::net {

struct static_file {
  std::string_view path;
  std::string_view content_type;
  std::string_view body;
};

/// The file served at `path` ("/" is "/index.html"), or nullptr.
const static_file* find_static(std::string_view path);

} // namespace herald::net
