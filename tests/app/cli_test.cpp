// The command line, through the real binary: --version, --help, `herald
// config` with overrides, and bad input that must print one line and exit 2.
#include "app/cli.hpp"
#include "config/setting_table.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

namespace herald::test {
namespace {

run_result herald(std::vector<std::string> args) {
  args.insert(args.begin(), HERALD_BINARY);
  return run(args);
}

size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(cli, version) {
  auto r = herald({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("herald " HERALD_VERSION, 0), 0u) << r.out;
}

TEST(cli, help_lists_every_setting) {
  auto r = herald({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const auto& s : config::node_settings()) {
    EXPECT_NE(r.out.find("--" + s.key + "="), std::string::npos) << s.key;
    EXPECT_NE(r.out.find(s.description), std::string::npos) << s.key;
  }
  for (const auto& s : config::namespace_options())
    EXPECT_NE(r.out.find("--namespaces.NAME." + s.key + "="), std::string::npos) << s.key;
}

TEST(cli, config_prints_the_effective_settings) {
  temp_dir dir;
  auto file = dir.file("h.toml");
  std::ofstream(file) << "[journal]\ndurability = \"normal\"\nmax_batch_events = 10\n";
  auto r = herald({"config", "--config", file, "--journal.max-batch-events=20", "--listen",
                   "0.0.0.0:9999", "--data-dir=/tmp/x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("durability = \"normal\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("max_batch_events = 20"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("listen = \"0.0.0.0:9999\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("data_dir = \"/tmp/x\""), std::string::npos) << r.out;
}

TEST(cli, the_default_is_the_chat_demo) {
  auto r = herald({"config"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[namespaces.chat]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("query \"messages\""), std::string::npos) << r.out;
}

struct bad_run {
  std::vector<std::string> args;
  std::string message;
};

TEST(cli, bad_input_prints_one_line_and_exits_2) {
  temp_dir dir;
  auto file = dir.file("bad.toml");
  std::ofstream(file) << "[journal]\n\ndurability = \"fast\"\n";
  const bad_run runs[] = {
    {{}, "herald: command line: no command given (see herald --help)\n"},
    {{"frobnicate"}, "herald: command line: unknown command \"frobnicate\" (see herald --help)\n"},
    {{"serve", "--journal.durability=fast"},
     "herald: command line: --journal.durability: \"fast\" is not one of full|normal\n"},
    {{"serve", "--listen"}, "herald: command line: --listen needs a value (see herald --help)\n"},
    {{"serve", "--nope=1"},
     "herald: command line: --nope: unknown setting (herald --help lists them)\n"},
    {{"serve", "stray"},
     "herald: command line: unexpected argument \"stray\" (see herald --help)\n"},
    {{"serve", "--config", file},
     "herald: " + file + ":3: journal.durability: \"fast\" is not one of full|normal\n"},
    {{"serve", "--config", dir.file("missing.toml")},
     "herald: " + dir.file("missing.toml") + ": cannot read the configuration file\n"},
  };
  for (const auto& b : runs) {
    auto r = herald(b.args);
    EXPECT_EQ(r.exit_code, 2) << b.message;
    EXPECT_EQ(r.err, b.message);
    EXPECT_EQ(lines(r.err), 1u);
    EXPECT_TRUE(r.out.empty());
  }
}

} // namespace
} // namespace herald::test

namespace herald::test {
namespace {

// The configuration reference must keep up with the code.
TEST(cli, the_configuration_reference_documents_every_setting) {
  std::ifstream in(HERALD_SOURCE_DIR "/docs/configuration.md");
  std::string doc(std::istreambuf_iterator<char>(in), {});
  ASSERT_FALSE(doc.empty());
  for (const auto& s : config::node_settings())
    EXPECT_NE(doc.find("`" + s.key + "`"), std::string::npos) << s.key;
  for (const auto& s : config::namespace_options())
    EXPECT_NE(doc.find("`" + s.key + "`"), std::string::npos) << s.key;
}

} // namespace
} // namespace herald::test
