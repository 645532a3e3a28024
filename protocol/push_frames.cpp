#include "protocol/push_frames.hpp"

#include "storage/event_meta.hpp"
#include "storage/msgpack_json.hpp"

namespace herald::protocol {

void append_client_info(std::string& out, const client_info& info) {
  out += '{';
  bool first = true;
  auto field = [&](const char* key, const std::string& value, bool raw) {
    if (value.empty())
      return;
    if (!first)
      out += ',';
    first = false;
    out += '"';
    out += key;
    out += "\":";
    if (raw)
      out += value;
    else
      storage::append_json_string(out, value);
  };
  field("user", info.user, false);
  field("client", info.client, false);
  field("conn_info", info.conn_info, true);
  field("chan_info", info.chan_info, true);
  out += '}';
}

void append_publication(std::string& out, const storage::recorded_event& e) {
  out += "{\"data\":";
  if (!storage::msgpack_to_json(e.data, out))
    out += "null";
  out += ",\"offset\":";
  out += std::to_string(e.version);
  auto meta = storage::decode_meta(e.meta);
  if (!meta.client.empty() || !meta.user.empty()) {
    out += ",\"info\":";
    append_client_info(out, client_info{meta.user, meta.client, meta.conn_info, meta.chan_info});
  }
  out += ",\"tags\":{";
  // The server API's tags (an object of strings without herald's own
  // names, checked on the way in), then herald's.
  if (meta.tags.size() > 2) {
    out.append(meta.tags, 1, meta.tags.size() - 2);
    out += ',';
  }
  out += "\"type\":";
  storage::append_json_string(out, e.type);
  out += ",\"position\":\"";
  out += std::to_string(e.position);
  out += "\"}}";
}

frame_ptr publication_frame(const storage::recorded_event& e) {
  auto out = std::make_shared<std::string>();
  out->reserve(96 + e.stream.size() + e.data.size() * 2);
  *out += "{\"push\":{\"channel\":";
  storage::append_json_string(*out, e.stream);
  *out += ",\"pub\":";
  append_publication(*out, e);
  *out += "}}";
  return out;
}

frame_ptr join_leave_frame(const std::string& channel, const client_info& info, bool join) {
  auto out = std::make_shared<std::string>();
  *out += "{\"push\":{\"channel\":";
  storage::append_json_string(*out, channel);
  *out += join ? ",\"join\":{\"info\":" : ",\"leave\":{\"info\":";
  append_client_info(*out, info);
  *out += "}}}";
  return out;
}

} // namespace herald::protocol
