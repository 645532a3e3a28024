#include "tests/support/temp_dir.hpp"

#include <stdexcept>
#include <stdlib.h>

namespace herald::test {

temp_dir::temp_dir() {
  auto pattern = (std::filesystem::temp_directory_path() / "herald-test-XXXXXX").string();
  if (!mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

} // namespace herald::test
