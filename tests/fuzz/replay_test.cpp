// Replays the fuzz targets' kept corpus (tests/fuzz/corpus/TARGET/) and the
// inputs that once broke a parser (tests/fuzz/regressions/TARGET/) through
// the same entry functions libFuzzer calls, in the ordinary build and under
// the sanitizer build of scripts/test.sh. An input that breaks an invariant
// aborts the test; the last "replaying" line names it.
#include "fuzz_entries.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

namespace herald::fuzz {
namespace {

namespace fs = std::filesystem;

using entry = void (*)(std::string_view);

/// The inputs kept under tests/fuzz/KIND/TARGET, sorted; dot files skipped.
std::vector<fs::path> inputs(const std::string& kind, const std::string& target) {
  std::vector<fs::path> out;
  fs::path dir = fs::path(HERALD_SOURCE_DIR) / "tests" / "fuzz" / kind / target;
  if (!fs::is_directory(dir))
    return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().front() != '.')
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// Runs every input of KIND/TARGET through `fn`; returns how many there were.
size_t replay(const std::string& kind, const std::string& target, entry fn) {
  auto files = inputs(kind, target);
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << path;
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Printed before the run: a crash ends the process, and the last line
    // then names the input (ctest --output-on-failure shows it).
    std::fprintf(stderr, "replaying %s\n", path.c_str());
    fn(data);
  }
  return files.size();
}

struct target {
  const char* name;
  entry fn;
};

const target targets[] = {
  {"client_frame", &client_frame},
  {"rest_body", &rest_body},
  {"config", &config},
  {"server_api", &server_api},
};

/// Names the target in test listings, rather than its bytes.
void PrintTo(const target& t, std::ostream* os) {
  *os << t.name;
}

class fuzz_replay : public testing::TestWithParam<target> {};

TEST_P(fuzz_replay, corpus) {
  // A few dozen seeds per target are kept; fewer means the corpus went missing.
  EXPECT_GE(replay("corpus", GetParam().name, GetParam().fn), 20u);
}

TEST_P(fuzz_replay, regressions) {
  // Every target has kept inputs that once broke it; none means they went
  // missing (a moved folder, a wrong HERALD_SOURCE_DIR), not that all passed.
  EXPECT_GE(replay("regressions", GetParam().name, GetParam().fn), 1u)
    << "no regression inputs under tests/fuzz/regressions/" << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(fuzz, fuzz_replay, testing::ValuesIn(targets),
                         [](const testing::TestParamInfo<target>& info) {
                           return std::string(info.param.name);
                         });

} // namespace
} // namespace herald::fuzz
