// The chat demo's read model computed independently from the journal, to
// compare with what the projection built (invariant 3).
#pragma once

#include "storage/journal_reader.hpp"
#include "storage/msgpack_json.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace herald::test {

/// rooms and messages rows as "col|col|..." text, like dump_tables.
inline std::map<std::string, std::vector<std::string>> chat_fold(const std::string& journal,
                                                                 uint64_t up_to) {
  struct room {
    int64_t messages = 0;
    uint64_t last_position = 0;
    int64_t last_time = 0;
  };
  std::map<std::string, room> rooms;
  std::vector<std::string> messages;
  storage::journal_reader reader(journal);
  reader.visit_all(1, up_to, [&](const storage::event_view& e) {
    if (e.stream.substr(0, 5) != "chat:")
      return;
    auto name = std::string(e.stream.substr(5));
    auto& r = rooms[name];
    r.last_position = e.position;
    r.last_time = e.time;
    if (e.type != "message")
      return;
    ++r.messages;
    std::string json;
    storage::msgpack_to_json(e.data, json);
    rapidjson::Document d;
    d.Parse(json.c_str());
    auto field = [&](const char* key) -> std::string {
      if (!d.IsObject() || !d.HasMember(key) || d[key].IsNull())
        return "NULL";
      if (d[key].IsString())
        return d[key].GetString();
      if (d[key].IsInt64())
        return std::to_string(d[key].GetInt64());
      return "?";
    };
    messages.push_back(name + "|" + std::to_string(e.version) + "|" + field("author") + "|"
                       + field("text") + "|" + std::to_string(e.time));
  });
  std::map<std::string, std::vector<std::string>> out;
  auto& rows = out["rooms"];
  for (const auto& [name, r] : rooms)
    rows.push_back(name + "|" + std::to_string(r.messages) + "|" + std::to_string(r.last_position)
                   + "|" + std::to_string(r.last_time));
  std::sort(messages.begin(), messages.end(), [](const std::string& a, const std::string& b) {
    // ORDER BY room, seq (numerically)
    auto ra = a.substr(0, a.find('|')), rb = b.substr(0, b.find('|'));
    if (ra != rb)
      return ra < rb;
    return std::stoull(a.substr(ra.size() + 1)) < std::stoull(b.substr(rb.size() + 1));
  });
  out["messages"] = std::move(messages);
  return out;
}

} // namespace herald::test
