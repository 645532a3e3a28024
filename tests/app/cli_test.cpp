// The command line, through the real binary: --version, --help, `herald
// config` with overrides, and bad input that must print one line and exit 2.
#include "app/cli.hpp"
#include "config/setting_table.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
  EXPECT_NE(r.out.find("[[query]]\nname = \"messages\""), std::string::npos) << r.out;
}

void expect_same_definitions(const config::settings& a, const config::settings& b) {
  ASSERT_EQ(a.projection_defs.size(), b.projection_defs.size());
  for (size_t i = 0; i < a.projection_defs.size(); ++i) {
    const auto &p = a.projection_defs[i], &q = b.projection_defs[i];
    EXPECT_EQ(p.name, q.name);
    EXPECT_EQ(p.schema, q.schema);
    ASSERT_EQ(p.handlers.size(), q.handlers.size()) << p.name;
    for (size_t h = 0; h < p.handlers.size(); ++h) {
      EXPECT_EQ(p.handlers[h].namespace_name, q.handlers[h].namespace_name);
      EXPECT_EQ(p.handlers[h].types, q.handlers[h].types);
      EXPECT_EQ(p.handlers[h].include_private, q.handlers[h].include_private);
      EXPECT_EQ(p.handlers[h].sql, q.handlers[h].sql);
    }
  }
  ASSERT_EQ(a.query_defs.size(), b.query_defs.size());
  for (size_t i = 0; i < a.query_defs.size(); ++i) {
    const auto &p = a.query_defs[i], &q = b.query_defs[i];
    EXPECT_EQ(p.name, q.name);
    EXPECT_EQ(p.projection, q.projection);
    EXPECT_EQ(p.sql, q.sql);
    EXPECT_EQ(p.public_read, q.public_read);
    ASSERT_EQ(p.params.size(), q.params.size()) << p.name;
    for (size_t k = 0; k < p.params.size(); ++k) {
      EXPECT_EQ(p.params[k].name, q.params[k].name);
      EXPECT_EQ(p.params[k].type, q.params[k].type);
      EXPECT_EQ(p.params[k].required, q.params[k].required);
      EXPECT_EQ(p.params[k].default_value, q.params[k].default_value);
    }
  }
  ASSERT_EQ(a.processor_defs.size(), b.processor_defs.size());
  for (size_t i = 0; i < a.processor_defs.size(); ++i) {
    const auto &p = a.processor_defs[i], &q = b.processor_defs[i];
    EXPECT_EQ(p.name, q.name);
    EXPECT_EQ(p.namespaces, q.namespaces);
    EXPECT_EQ(p.types, q.types);
    EXPECT_EQ(p.read_models, q.read_models);
    EXPECT_EQ(p.wait_for, q.wait_for);
    EXPECT_EQ(p.sql, q.sql);
  }
  for (const auto& [name, ns] : a.namespaces)
    EXPECT_EQ(ns.writers, b.namespaces.at(name).writers) << name;
}

// `herald config > my.toml` gives a file that serve accepts as is and that
// means the same: the same definitions and, printed again, the same text.
TEST(cli, config_prints_a_file_that_loads_back_the_same) {
  temp_dir dir;
  auto file = dir.file("my.toml");
  auto first = herald({"config", "--namespaces.a.b.publish=any", "--server.data_dir=d\"\\ir"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::ofstream(file) << first.out;
  auto check = herald({"check", "--config", file});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(check.out, "ok\n");
  auto second = herald({"config", "--config", file});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
  auto original = config::parse_toml(config::embedded_default(), "(embedded default)");
  auto again = config::parse_toml(first.out, file);
  expect_same_definitions(original, again);
  EXPECT_EQ(again.server.data_dir, "d\"\\ir");
  ASSERT_TRUE(again.namespace_of("a.b:x"));
  EXPECT_EQ(again.namespace_of("a.b:x")->publish, config::permission::any);
}

// Text that is hard to print: quotes up to """ and at the end, backslashes,
// tabs, a carriage return, defaults of either kind, keys that need quotes.
TEST(cli, config_prints_awkward_definitions_that_load_back_the_same) {
  temp_dir dir;
  auto file = dir.file("awkward.toml");
  std::ofstream(file)
    << "[namespaces.\"a.b\"]\npublish = \"any\"\n"
       "[[projection]]\nname = \"p\"\n"
       "schema = \"CREATE TABLE t (a TEXT, \\\"b\\\"\\\"\\\" TEXT);\"\n"
       "[[projection.handler]]\nnamespace = \"a.b\"\ntypes = [\"x\\\"y\", \"z\"]\nprivate = true\n"
       "sql = \"\"\"\nINSERT INTO t (a) VALUES ('\\\\ \\t \\r \\\"\"\"\\\"');\n\"\"\"\n"
       "[[query]]\nname = \"q.1\"\nprojection = \"p\"\npublic = false\n"
       "sql = 'SELECT a AS \"x\" FROM t WHERE a = :s AND length(a) > :n AND :m = :m'\n"
       "params.s = { type = \"text\", default = \"he said \\\"hi\\\"\" }\n"
       "params.n = { type = \"integer\", default = \"007\" }\n"
       "params.m = { type = \"integer\", required = true, default = -3 }\n";
  auto printed = herald({"config", "--config", file});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  auto original = config::parse_toml(
    std::string(std::istreambuf_iterator<char>(std::ifstream(file).rdbuf()), {}), file);
  auto again = config::parse_toml(printed.out, "printed");
  expect_same_definitions(original, again);
  ASSERT_TRUE(again.namespace_of("a.b:x"));
  EXPECT_EQ(again.namespace_of("a.b:x")->publish, config::permission::any);
}

// A secret is not printed, and not replaced by a placeholder that would
// become the secret of whoever runs the printed file.
TEST(cli, config_does_not_print_secrets) {
  auto r = herald({"config", "--http.api_key=s3cret"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("s3cret"), std::string::npos);
  EXPECT_NE(r.out.find("# api_key is set but not printed: put it here or pass --http.api_key\n"),
            std::string::npos)
    << r.out;
  EXPECT_TRUE(config::parse_toml(r.out, "printed").http.api_key.empty());
}

TEST(cli, check_says_ok_for_a_good_file) {
  auto r = herald({"check"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_TRUE(r.err.empty()) << r.err;
}

struct bad_sql {
  std::string toml;
  std::string message; ///< after "herald: FILE:"
};

// SQL that does not compile is a configuration error: one line naming the
// line of the SQL at fault, exit 2, from serve, check and config alike; and
// nothing is created on disk.
TEST(cli, sql_errors_name_their_line_and_exit_2) {
  const std::string schema = "[[projection]]\n"                                 // 1
                             "name = \"chat\"\n"                                // 2
                             "schema = \"\"\"\n"                                // 3
                             "CREATE TABLE messages (id INTEGER PRIMARY KEY,\n" // 4
                             "  text TEXT);\n"                                  // 5
                             "\"\"\"\n"                                         // 6
                             "[[projection.handler]]\n"                         // 7
                             "types = [\"message\"]\n";                         // 8
  const std::string good_handler = "sql = \"INSERT INTO messages (text) VALUES (:data)\"\n";
  const bad_sql cases[] = {
    {schema
       + "sql = \"\"\"\n"                               // 9
         "DELETE FROM messages WHERE id < 0;\n"         // 10
         "INSRT INTO messages (text) VALUES (:data);\n" // 11
         "\"\"\"\n",
     "11: projection \"chat\" handler: SQL error: near \"INSRT\": syntax error"},
    {"[[projection]]\nname = \"chat\"\nschema = \"\"\"\nCREATE TABLE m (a);\n"
     "CREATE INDEX i ON m (b);\n\"\"\"\n[[projection.handler]]\nsql = \"SELECT 1\"\n",
     "5: projection \"chat\" schema: SQL error: no such column: b"},
    {schema + good_handler
       + "[[query]]\n"               // 10
         "name = \"recent\"\n"       // 11
         "projection = \"chat\"\n"   // 12
         "sql = '''SELECT id,\n"     // 13
         "  txt FROM messages'''\n", // 14
     "14: query \"recent\": SQL error: no such column: txt"},
    // SQLite gives no position for a missing table: the statement's line.
    {schema + good_handler
       + "[[query]]\nname = \"recent\"\nprojection = \"chat\"\n" // 10-12
         "sql = \"\"\"\n"                                        // 13
         "\n"                                                    // 14
         "SELECT text\n"                                         // 15
         "  FROM mesages\"\"\"\n",                               // 16
     "15: query \"recent\": SQL error: no such table: mesages"},
    {schema + "sql = \"INSERT INTO messages (text) VALUES (:body)\"\n",
     "9: projection chat, handler 1: unknown parameter :body (known: :stream :namespace :name "
     ":version :position :type :id :time :meta :data :user :client :private)"},
    // A stream processor's statement: one read-only SELECT with channel and
    // data (docs/processors.md).
    {schema + good_handler
       + "[namespaces.chat]\n"                    // 10
         "[[processor]]\nname = \"p\"\n"          // 11-12
         "namespaces = [\"chat\"]\n"              // 13
         "read_models = [\"chat\"]\n"             // 14
         "sql = \"DELETE FROM chat.messages\"\n", // 15
     "15: processor \"p\": SQL error: not authorized: a processor's statement may only read "
     "(one SELECT)"},
    {schema + good_handler
       + "[namespaces.chat]\n[[processor]]\nname = \"p\"\nnamespaces = [\"chat\"]\n"
         "read_models = [\"chat\"]\n"
         "sql = \"SELECT text AS data FROM chat.messages\"\n", // 15
     "15: processor \"p\": must return a column named channel"},
  };
  for (const auto& c : cases) {
    temp_dir dir;
    auto file = dir.file("bad.toml");
    std::ofstream(file) << c.toml;
    auto data = dir.file("data");
    for (const char* cmd : {"serve", "check", "config"}) {
      auto r = herald({cmd, "--config", file, "--data-dir", data, "--listen", "127.0.0.1:0"});
      EXPECT_EQ(r.exit_code, 2) << cmd << " " << r.err;
      EXPECT_EQ(r.err, "herald: " + file + ":" + c.message + "\n") << cmd;
      EXPECT_TRUE(r.out.empty()) << cmd << " " << r.out;
      EXPECT_FALSE(std::filesystem::exists(data)) << cmd;
    }
  }
}

/// A listening socket on a free loopback port, held while it lives.
struct held_port {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;

  held_port() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 1) == 0
        && ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
  }
  ~held_port() {
    ::close(fd);
  }
};

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// A port in use: the reason once, and no data directory left behind.
TEST(cli, a_port_in_use_fails_once_and_leaves_no_data_directory) {
  held_port held;
  ASSERT_GT(held.port, 0);
  temp_dir dir;
  auto data = dir.file("new-data");
  auto r =
    herald({"serve", "--listen", "127.0.0.1:" + std::to_string(held.port), "--data-dir", data});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto printed = r.out + r.err; // the log goes to stdout
  EXPECT_EQ(count(printed, "cannot listen on 127.0.0.1:" + std::to_string(held.port)), 1u)
    << printed;
  EXPECT_EQ(count(printed, "Address already in use"), 1u) << printed;
  EXPECT_FALSE(std::filesystem::exists(data)) << printed;
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
     "herald: " + dir.file("missing.toml")
       + ": cannot read the configuration file: No such file or directory\n"},
    {{"check", "--config", dir.path().string()},
     "herald: " + dir.path().string() + ": cannot read the configuration file: Is a directory\n"},
    // An unknown flag is named as such, with or without a value after it.
    {{"serve", "--bogus"},
     "herald: command line: --bogus: unknown setting (herald --help lists them)\n"},
    {{"config", "--bogus", "--listen", "127.0.0.1:1"},
     "herald: command line: --bogus: unknown setting (herald --help lists them)\n"},
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
