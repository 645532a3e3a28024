#include "storage/event_meta.hpp"

#include "storage/msgpack_json.hpp"

#include <msgpack.hpp>

#include <utility>
#include <vector>

namespace herald::storage {

std::string encode_meta(const event_meta& m) {
  std::vector<std::pair<std::string_view, const std::string*>> strings;
  std::vector<std::pair<std::string_view, const std::string*>> json;
  for (auto [key, value] : {std::pair<std::string_view, const std::string*>{"user", &m.user},
                            {"client", &m.client},
                            {"correlation_id", &m.correlation},
                            {"causation_id", &m.causation},
                            {"via", &m.via},
                            {"key", &m.key},
                            {"processor", &m.processor}})
    if (!value->empty())
      strings.emplace_back(key, value);
  for (auto [key, value] :
       {std::pair<std::string_view, const std::string*>{"conn_info", &m.conn_info},
        {"chan_info", &m.chan_info},
        {"tags", &m.tags}})
    if (!value->empty())
      json.emplace_back(key, value);
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  const bool generation = m.generation > 0;
  pk.pack_map(static_cast<uint32_t>(strings.size() + generation + json.size()));
  for (const auto& [key, value] : strings) {
    pk.pack_str(static_cast<uint32_t>(key.size()));
    pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
    pk.pack_str(static_cast<uint32_t>(value->size()));
    pk.pack_str_body(value->data(), static_cast<uint32_t>(value->size()));
  }
  if (generation) {
    pk.pack(std::string_view("generation"));
    pk.pack(m.generation);
  }
  std::string out(buf.data(), buf.size());
  for (const auto& [key, value] : json) {
    std::string k;
    k.push_back(static_cast<char>(0xa0 | key.size()));
    k.append(key);
    out += k;
    const size_t start = out.size();
    if (!valid_json_to_msgpack(*value, out)) {
      out.resize(start); // drop what it wrote before failing: the map stays valid
      out.push_back(static_cast<char>(0xc0)); // nil: callers validate first
    }
  }
  return out;
}

event_meta decode_meta(std::string_view mp) {
  event_meta m;
  if (mp.empty())
    return m;
  try {
    size_t offset = 0;
    auto handle = msgpack::unpack(mp.data(), mp.size(), offset);
    const auto& o = handle.get();
    if (o.type != msgpack::type::MAP)
      return m;
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      const auto& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR)
        continue;
      std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
      auto text = [&]() -> std::string {
        if (kv.val.type == msgpack::type::STR)
          return std::string(kv.val.via.str.ptr, kv.val.via.str.size);
        return {};
      };
      auto as_json = [&]() -> std::string {
        msgpack::sbuffer buf;
        msgpack::pack(buf, kv.val);
        std::string out;
        return msgpack_to_json(std::string_view(buf.data(), buf.size()), out) ? out : "";
      };
      if (key == "user")
        m.user = text();
      else if (key == "client")
        m.client = text();
      else if (key == "correlation_id" || (key == "correlation" && m.correlation.empty()))
        m.correlation = text();
      else if (key == "causation_id" || (key == "causation" && m.causation.empty()))
        m.causation = text();
      else if (key == "via")
        m.via = text();
      else if (key == "key")
        m.key = text();
      else if (key == "processor")
        m.processor = text();
      else if (key == "generation" && kv.val.type == msgpack::type::POSITIVE_INTEGER)
        m.generation = kv.val.via.u64;
      else if (key == "conn_info")
        m.conn_info = as_json();
      else if (key == "chan_info")
        m.chan_info = as_json();
      else if (key == "tags" && kv.val.type == msgpack::type::MAP)
        m.tags = as_json();
    }
  } catch (const std::exception&) {
    return event_meta{};
  }
  return m;
}

std::string merge_meta(std::string_view extra, const event_meta& m) {
  const std::string ours = encode_meta(m);
  try {
    msgpack::object_handle theirs;
    if (!extra.empty())
      theirs = msgpack::unpack(extra.data(), extra.size());
    auto mine = msgpack::unpack(ours.data(), ours.size());
    const auto& own = mine.get().via.map;
    std::vector<const msgpack::object_kv*> kept;
    if (!extra.empty() && theirs.get().type == msgpack::type::MAP) {
      const auto& map = theirs.get().via.map;
      for (uint32_t i = 0; i < map.size; ++i) {
        bool shadowed = false;
        for (uint32_t j = 0; j < own.size && !shadowed; ++j)
          shadowed = map.ptr[i].key == own.ptr[j].key;
        if (!shadowed)
          kept.push_back(&map.ptr[i]);
      }
    }
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(static_cast<uint32_t>(kept.size() + own.size));
    for (const auto* kv : kept)
      pk.pack(kv->key).pack(kv->val);
    for (uint32_t j = 0; j < own.size; ++j)
      pk.pack(own.ptr[j].key).pack(own.ptr[j].val);
    return std::string(buf.data(), buf.size());
  } catch (const std::exception&) {
    return ours; // a malformed `extra` is dropped rather than stored broken
  }
}

} // namespace herald::storage
