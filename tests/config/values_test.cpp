// Parsing of setting values: bounds, units and the reasons given.
#include "config/values.hpp"

#include <gtest/gtest.h>

namespace herald::config {
namespace {

using namespace std::chrono_literals;

template <class T>
std::string reason(const parsed<T>& p) {
  auto* bad = std::get_if<invalid>(&p);
  return bad ? bad->reason : "";
}

TEST(values, integers_within_bounds) {
  EXPECT_EQ(std::get<int64_t>(parse_integer("42", 1, 100)), 42);
  EXPECT_EQ(reason(parse_integer("0", 1, 100)), "0 is out of range (1..100)");
  EXPECT_EQ(reason(parse_integer("12x", 1, 100)), "\"12x\" is not an integer");
  EXPECT_EQ(reason(parse_integer("", 1, 100)), "\"\" is not an integer");
  EXPECT_NE(reason(parse_integer("99999999999999999999", 1, 100)).find("out of range"),
            std::string::npos);
}

TEST(values, sizes_with_units) {
  EXPECT_EQ(std::get<int64_t>(parse_size("65536", 1, 1 << 30)), 65536);
  EXPECT_EQ(std::get<int64_t>(parse_size("64KiB", 1, 1 << 30)), 65536);
  EXPECT_EQ(std::get<int64_t>(parse_size("4MiB", 1, 1 << 30)), 4 << 20);
  EXPECT_NE(reason(parse_size("4XB", 1, 1 << 30)).find("unknown unit"), std::string::npos);
  EXPECT_NE(reason(parse_size("2GiB", 1, 1 << 30)).find("out of range (1B..1GiB)"),
            std::string::npos);
  EXPECT_NE(reason(parse_size("-1", 1, 1 << 30)).find("not a size"), std::string::npos);
  EXPECT_EQ(format_size(4 << 20), "4MiB");
  EXPECT_EQ(format_size(1000), "1000B");
}

TEST(values, durations_need_a_unit) {
  EXPECT_EQ(std::get<duration>(parse_duration("250ms", 0ms, 1h)), 250ms);
  EXPECT_EQ(std::get<duration>(parse_duration("30s", 0ms, 1h)), 30s);
  EXPECT_EQ(std::get<duration>(parse_duration("5m", 0ms, 1h)), 5min);
  EXPECT_NE(reason(parse_duration("30", 0ms, 1h)).find("not a duration"), std::string::npos);
  EXPECT_NE(reason(parse_duration("3d", 0ms, 1h)).find("unknown unit"), std::string::npos);
  EXPECT_NE(reason(parse_duration("2h", 0ms, 1h)).find("out of range (0ms..1h)"),
            std::string::npos);
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(2min), "2m");
}

TEST(values, booleans_and_endpoints) {
  EXPECT_TRUE(std::get<bool>(parse_bool("true")));
  EXPECT_FALSE(std::get<bool>(parse_bool("off")));
  EXPECT_NE(reason(parse_bool("maybe")).find("not a boolean"), std::string::npos);
  auto e = std::get<endpoint>(parse_endpoint("0.0.0.0:9000"));
  EXPECT_EQ(e.host, "0.0.0.0");
  EXPECT_EQ(e.port, 9000);
  auto v6 = std::get<endpoint>(parse_endpoint("[::1]:8000"));
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(format_endpoint(v6), "[::1]:8000");
  EXPECT_NE(reason(parse_endpoint("localhost")).find("not HOST:PORT"), std::string::npos);
  EXPECT_NE(reason(parse_endpoint("h:70000")).find("port"), std::string::npos);
}

} // namespace
} // namespace herald::config
