// Routing REST requests (net/rest_routes.hpp): which route a method and a
// path reach, and what the dispatcher learns when none does.
#include "net/rest_routes.hpp"

#include <gtest/gtest.h>

namespace herald::test {
namespace {

using boost::beast::http::verb;
using net::auth_rule;
using net::find_route;
using net::match_path;
using net::path_params;
using net::route;
using net::route_match;

std::vector<std::string> path(std::initializer_list<const char*> segments) {
  return {segments.begin(), segments.end()};
}

TEST(rest_routes, literal_segments_match_exactly) {
  path_params p;
  EXPECT_TRUE(match_path("/health", path({"health"}), p));
  EXPECT_FALSE(match_path("/health", path({"healthz"}), p));
  EXPECT_FALSE(match_path("/health", path({"health", "x"}), p));
  EXPECT_FALSE(match_path("/health", path({}), p));
  EXPECT_TRUE(match_path("/api/events", path({"api", "events"}), p));
  EXPECT_TRUE(p.empty());
}

TEST(rest_routes, named_segments_take_one_segment_each) {
  path_params p;
  ASSERT_TRUE(match_path("/api/streams/{stream}", path({"api", "streams", "chat:a/b"}), p));
  EXPECT_EQ(p.at("stream"), "chat:a/b"); // decoded %2F stays in its segment
  EXPECT_FALSE(match_path("/api/streams/{stream}", path({"api", "streams"}), p));
  EXPECT_FALSE(match_path("/api/streams/{stream}", path({"api", "streams", "a", "b"}), p));
  ASSERT_TRUE(
    match_path("/api/projections/{name}/rebuild", path({"api", "projections", "p", "rebuild"}), p));
  EXPECT_EQ(p.at("name"), "p");
  EXPECT_FALSE(
    match_path("/api/projections/{name}/rebuild", path({"api", "projections", "p", "skip"}), p));
}

TEST(rest_routes, a_last_double_star_takes_any_rest) {
  path_params p;
  EXPECT_TRUE(match_path("/api/**", path({"api"}), p));
  EXPECT_TRUE(match_path("/api/**", path({"api", "x", "y", "z"}), p));
  EXPECT_FALSE(match_path("/api/**", path({"apix"}), p));
  EXPECT_FALSE(match_path("/api/**", path({}), p));
}

const std::vector<route> table{
  {verb::get, "/health", auth_rule::open, nullptr},
  {std::nullopt, "/connection/websocket", auth_rule::open, nullptr},
  {verb::get, "/api/streams/{stream}", auth_rule::api_key, nullptr},
  {verb::post, "/api/streams/{stream}", auth_rule::api_key, nullptr},
  {verb::get, "/api/queries/{name}", auth_rule::api_key_unless_public_query, nullptr},
  {verb::post, "/api/projections/{name}/rebuild", auth_rule::api_key, nullptr},
  {std::nullopt, "/api/**", auth_rule::api_key, nullptr},
};

TEST(rest_routes, the_method_picks_among_the_routes_of_a_path) {
  auto get = find_route(table, verb::get, path({"api", "streams", "s"}));
  ASSERT_EQ(get.outcome, route_match::found);
  EXPECT_EQ(get.entry, &table[2]);
  EXPECT_EQ(get.params.at("stream"), "s");
  auto post = find_route(table, verb::post, path({"api", "streams", "s"}));
  ASSERT_EQ(post.outcome, route_match::found);
  EXPECT_EQ(post.entry, &table[3]);
  EXPECT_EQ(post.params.at("stream"), "s");
}

TEST(rest_routes, a_wrong_method_names_the_first_route_of_the_path) {
  // Not the catch-all: a known resource answers 405 with its own method.
  auto m = find_route(table, verb::delete_, path({"api", "streams", "s"}));
  ASSERT_EQ(m.outcome, route_match::wrong_method);
  EXPECT_EQ(m.entry, &table[2]);
  auto rebuild = find_route(table, verb::get, path({"api", "projections", "p", "rebuild"}));
  ASSERT_EQ(rebuild.outcome, route_match::wrong_method);
  EXPECT_EQ(rebuild.entry, &table[5]);
  EXPECT_EQ(rebuild.params.at("name"), "p");
  auto head = find_route(table, verb::head, path({"health"}));
  EXPECT_EQ(head.outcome, route_match::wrong_method);
}

TEST(rest_routes, a_route_without_a_method_takes_any) {
  for (auto v : {verb::get, verb::post, verb::put}) {
    auto m = find_route(table, v, path({"connection", "websocket"}));
    ASSERT_EQ(m.outcome, route_match::found);
    EXPECT_EQ(m.entry, &table[1]);
  }
}

TEST(rest_routes, unknown_api_paths_fall_to_the_catch_all) {
  for (const auto& p : {path({"api"}), path({"api", "streams"}), path({"api", "nope", "x"}),
                        path({"api", "projections", "p", "explode"})}) {
    auto m = find_route(table, verb::get, p);
    ASSERT_EQ(m.outcome, route_match::found);
    EXPECT_EQ(m.entry, &table.back());
    EXPECT_EQ(m.entry->auth, auth_rule::api_key);
  }
}

TEST(rest_routes, other_paths_match_no_route) {
  for (const auto& p : {path({}), path({"index.html"}), path({"health", "x"})}) {
    auto m = find_route(table, verb::get, p);
    EXPECT_EQ(m.outcome, route_match::no_route);
    EXPECT_EQ(m.entry, nullptr);
    EXPECT_TRUE(m.params.empty());
  }
}

} // namespace
} // namespace herald::test
