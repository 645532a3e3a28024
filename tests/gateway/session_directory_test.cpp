// The directory the server API finds users' sessions in, and the channels'
// client counts it lists (gateway/session_directory.hpp).
#include "gateway/session_directory.hpp"

#include <gtest/gtest.h>

using herald::gateway::session_actor;
using herald::gateway::session_directory;

namespace {

std::vector<std::string> clients_of(const session_directory& d, const std::string& user,
                                    const std::string& client = "") {
  std::vector<std::string> out;
  for (const auto& s : d.sessions_of(user, client))
    out.push_back(s.client);
  return out;
}

} // namespace

TEST(SessionDirectory, FindsAUsersSessionsOrOne) {
  session_directory d;
  d.add("alice", "c1", session_actor{});
  d.add("alice", "c2", session_actor{});
  d.add("bob", "c3", session_actor{});
  EXPECT_EQ(clients_of(d, "alice"), (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ(clients_of(d, "alice", "c2"), std::vector<std::string>{"c2"});
  EXPECT_TRUE(clients_of(d, "alice", "c3").empty()); // bob's client, not alice's
  EXPECT_TRUE(clients_of(d, "carol").empty());
  EXPECT_EQ(d.users(), 2u);
  d.remove("alice", "c1");
  d.remove("alice", "c2");
  d.remove("nobody", "c9"); // harmless
  EXPECT_TRUE(clients_of(d, "alice").empty());
  EXPECT_EQ(d.users(), 1u);
}

TEST(SessionDirectory, CountsClientsPerChannel) {
  session_directory d;
  d.joined("chat:a");
  d.joined("chat:a");
  d.joined("chat:b");
  EXPECT_EQ(d.channels(), (std::map<std::string, uint64_t>{{"chat:a", 2}, {"chat:b", 1}}));
  d.left("chat:a");
  d.left("chat:b");
  d.left("chat:never"); // harmless
  EXPECT_EQ(d.channels(), (std::map<std::string, uint64_t>{{"chat:a", 1}}));
}
