// Fuzz target: Centrifugo's server API decoding (net/server_api_codec.hpp).
// The input is
//
//   publish                                        line 1: the method
//   {"channel":"chat:a","data":{"text":"hi"}}      the body, to the end
//
// as POST /api/publish carries it. The body goes through parse_params and
// then the method's decoder, the way server_api.cpp and
// server_api_methods.cpp use them; "batch" decodes its commands and each
// command's params. The method "legacy" reads the body as POST /api does:
// newline-delimited {"method","params"} lines, each parsed and decoded on
// its own. Any other name runs every decoder on the body. What a decoder
// accepts is checked against the fields sent (docs/rest.md, "Centrifugo
// server API"), what it refuses gets a 107 with a message, and every answer
// envelope the server would write around the outcomes is valid JSON.
#include "fuzz_entries.hpp"
#include "input_lines.hpp"
#include "json_checks.hpp"
#include "net/server_api_codec.hpp"
#include "protocol/append_args.hpp"
#include "protocol/json_value_check.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/msgpack_json.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace herald::fuzz {

namespace {

namespace sa = net::server_api;

/// How a request decoded: nullopt when it did, else the error it answers.
using outcome = std::optional<sa::error>;

/// A field as the codec reads it: present and not null.
const rapidjson::Value* field(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject())
    return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

std::string_view text_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

/// A string field's text; "" when absent or not a string.
std::string_view string_field(const rapidjson::Value& obj, const char* name) {
  const auto* v = field(obj, name);
  return v && v->IsString() ? text_of(*v) : std::string_view();
}

bool known_code(sa::code c) {
  switch (c) {
    case sa::code::internal:
    case sa::code::unknown_channel:
    case sa::code::not_found:
    case sa::code::bad_request:
    case sa::code::not_available:
    case sa::code::unrecoverable_position:
    case sa::code::conflict:
      return true;
  }
  return false;
}

/// An error has a code of the enum and a one-line message, and its envelope
/// {"error":{"code":N,"message":M}} parses back to both.
void check_error(const sa::error& e) {
  HERALD_FUZZ_CHECK(known_code(e.what));
  HERALD_FUZZ_CHECK(!e.message.empty() && e.message.find('\n') == std::string::npos);
  rapidjson::Document doc;
  HERALD_FUZZ_CHECK(parse_json(sa::error_envelope(e), doc) && doc.IsObject()
                    && doc.MemberCount() == 1);
  auto err = doc.FindMember("error");
  HERALD_FUZZ_CHECK(err != doc.MemberEnd() && err->value.IsObject()
                    && err->value.MemberCount() == 2);
  auto code = err->value.FindMember("code");
  auto message = err->value.FindMember("message");
  HERALD_FUZZ_CHECK(code != err->value.MemberEnd() && code->value.IsInt()
                    && code->value.GetInt() == static_cast<int>(e.what));
  HERALD_FUZZ_CHECK(message != err->value.MemberEnd() && message->value.IsString()
                    && text_of(message->value) == e.message);
}

/// A decoder refuses only with 107 (the method itself answers the others).
template <class T>
outcome refusal(const sa::decoded<T>& d) {
  if (d)
    return std::nullopt;
  HERALD_FUZZ_CHECK(d.error().what == sa::code::bad_request);
  check_error(d.error());
  return d.error();
}

/// A required string field that decoded: the non-empty string sent.
void check_required(const std::string& decoded, const rapidjson::Value& params, const char* name) {
  const auto* v = field(params, name);
  HERALD_FUZZ_CHECK(v && v->IsString() && !decoded.empty() && decoded == text_of(*v));
}

/// Whether a required string field is there: what decides decode_channel.
bool has_required(const rapidjson::Value& params, const char* name) {
  const auto* v = field(params, name);
  return v && v->IsString() && v->GetStringLength() > 0;
}

/// Decoded tags: none when absent or {}, else the object of strings sent.
void check_tags(const std::string& tags, const rapidjson::Value& params) {
  const auto* sent = field(params, "tags");
  if (tags.empty()) {
    HERALD_FUZZ_CHECK(!sent || (sent->IsObject() && sent->MemberCount() == 0));
    return;
  }
  rapidjson::Document doc;
  HERALD_FUZZ_CHECK(sent && parse_json(tags, doc) && doc.IsObject() && same_json(doc, *sent));
  for (const auto& m : doc.GetObject()) {
    HERALD_FUZZ_CHECK(m.value.IsString());
    HERALD_FUZZ_CHECK(text_of(m.name) != "type" && text_of(m.name) != "position");
  }
}

/// The event type publish takes from data.type: a string of 1 to 128
/// bytes, else none (the namespace's default).
std::string_view type_in(const rapidjson::Value& data) {
  if (!data.IsObject())
    return {};
  auto t = data.FindMember("type");
  if (t == data.MemberEnd() || !t->value.IsString() || t->value.GetStringLength() == 0
      || t->value.GetStringLength() > protocol::max_type_length)
    return {};
  return text_of(t->value);
}

/// The payload is the data sent, and the data limit counts what it renders.
void check_data(const std::string& mp, const rapidjson::Value& sent) {
  check_msgpack_holds(mp, sent);
  std::string rendered;
  HERALD_FUZZ_CHECK(storage::msgpack_to_json(mp, rendered));
  auto size = protocol::rendered_json_size(mp);
  HERALD_FUZZ_CHECK(size && *size == rendered.size());
  HERALD_FUZZ_CHECK(protocol::data_within_limit(mp, rendered.size()));
  HERALD_FUZZ_CHECK(rendered.empty() || !protocol::data_within_limit(mp, rendered.size() - 1));
}

/// The publication of a publish or broadcast that decoded.
void check_publication(const sa::publish_args& p, const rapidjson::Value& params) {
  HERALD_FUZZ_CHECK(!field(params, "b64data") && !field(params, "b64info"));
  const auto* data = field(params, "data");
  HERALD_FUZZ_CHECK(data);
  check_data(p.data, *data);
  HERALD_FUZZ_CHECK(p.type == type_in(*data));
  const auto* skip = field(params, "skip_history");
  HERALD_FUZZ_CHECK(!skip || (skip->IsBool() && !skip->GetBool()));
  const auto* version = field(params, "version");
  HERALD_FUZZ_CHECK(!version || (version->IsUint64() && version->GetUint64() == 0));
  check_tags(p.tags, params);
  HERALD_FUZZ_CHECK(p.idempotency.size() <= protocol::max_event_id_length);
  HERALD_FUZZ_CHECK(p.idempotency == string_field(params, "idempotency_key"));
}

outcome publish(const rapidjson::Value& params) {
  auto d = sa::decode_publish(params);
  if (!d) {
    // Without a channel nothing else is read.
    if (!has_required(params, "channel"))
      HERALD_FUZZ_CHECK(d.error().message.find("\"channel\"") != std::string::npos);
    return refusal(d);
  }
  check_required(d->channel, params, "channel");
  check_publication(*d, params);
  return std::nullopt;
}

outcome broadcast(const rapidjson::Value& params) {
  auto d = sa::decode_broadcast(params);
  if (!d)
    return refusal(d);
  const auto* sent = field(params, "channels");
  HERALD_FUZZ_CHECK(sent && sent->IsArray() && sent->Size() == d->channels.size()
                    && !d->channels.empty());
  for (rapidjson::SizeType i = 0; i < sent->Size(); ++i)
    HERALD_FUZZ_CHECK((*sent)[i].IsString() && !d->channels[i].empty()
                      && d->channels[i] == text_of((*sent)[i]));
  HERALD_FUZZ_CHECK(d->publication.channel.empty());
  check_publication(d->publication, params);
  return std::nullopt;
}

/// All of a user's connections, or only one of them.
void check_connections(const sa::connections& who, const rapidjson::Value& params) {
  check_required(who.user, params, "user");
  HERALD_FUZZ_CHECK(who.client == string_field(params, "client"));
}

/// subscribe and unsubscribe.
outcome subscription(const rapidjson::Value& params) {
  auto d = sa::decode_subscription(params);
  if (!d) {
    const auto* client = field(params, "client");
    HERALD_FUZZ_CHECK(!has_required(params, "user") || !has_required(params, "channel")
                      || (client && !client->IsString()));
    return refusal(d);
  }
  check_connections(d->who, params);
  check_required(d->channel, params, "channel");
  return std::nullopt;
}

outcome disconnect(const rapidjson::Value& params) {
  auto d = sa::decode_disconnect(params);
  if (!d)
    return refusal(d);
  check_connections(d->who, params);
  const auto* spared = field(params, "whitelist");
  HERALD_FUZZ_CHECK(d->whitelist.size() == (spared ? spared->Size() : 0));
  for (size_t i = 0; i < d->whitelist.size(); ++i)
    HERALD_FUZZ_CHECK(d->whitelist[i] == text_of((*spared)[static_cast<rapidjson::SizeType>(i)]));
  // A close code an application may send, and a reason that fits a close
  // frame; Centrifugo's "force disconnect" when none is given.
  HERALD_FUZZ_CHECK(d->close_code >= 3000 && d->close_code <= 4999);
  HERALD_FUZZ_CHECK(d->reason.size() <= 123);
  if (const auto* how = field(params, "disconnect")) {
    HERALD_FUZZ_CHECK(d->close_code == field(*how, "code")->GetUint());
    HERALD_FUZZ_CHECK(d->reason == string_field(*how, "reason"));
  } else {
    HERALD_FUZZ_CHECK(d->close_code == 3503 && d->reason == "force disconnect");
  }
  return std::nullopt;
}

outcome refresh(const rapidjson::Value& params) {
  auto d = sa::decode_refresh(params);
  if (!d)
    return refusal(d);
  check_connections(d->who, params);
  HERALD_FUZZ_CHECK(!field(params, "b64info"));
  const auto* expired = field(params, "expired");
  HERALD_FUZZ_CHECK(d->expired == (expired && expired->GetBool()));
  const auto* at = field(params, "expire_at");
  HERALD_FUZZ_CHECK(d->expire_at >= 0 && d->expire_at == (at ? at->GetInt64() : 0));
  // The info goes to the connections as JSON text: what was sent.
  const auto* info = field(params, "info");
  HERALD_FUZZ_CHECK(d->info.empty() == !info);
  if (info) {
    rapidjson::Document doc;
    HERALD_FUZZ_CHECK(parse_json(d->info, doc) && same_json(doc, *info));
  }
  return std::nullopt;
}

/// presence, presence_stats, history_remove.
outcome channel(const rapidjson::Value& params) {
  auto d = sa::decode_channel(params);
  HERALD_FUZZ_CHECK(bool(d) == has_required(params, "channel"));
  if (!d)
    return refusal(d);
  check_required(*d, params, "channel");
  return std::nullopt;
}

/// The journal read a history request plans, under a cap on events read.
void check_plan(const sa::history_args& h, uint64_t cap) {
  auto r = sa::plan_history(h, cap);
  HERALD_FUZZ_CHECK(r.forward == !h.reverse);
  HERALD_FUZZ_CHECK(r.count <= cap);
  if (h.limit == 0)
    HERALD_FUZZ_CHECK(r.count == 0);
  if (r.count == 0)
    return;
  // Versions start at 1; the read starts past `since` in its direction.
  HERALD_FUZZ_CHECK(r.from >= 1);
  if (h.limit > 0)
    HERALD_FUZZ_CHECK(r.count == std::min<uint64_t>(static_cast<uint64_t>(h.limit), cap));
  else
    HERALD_FUZZ_CHECK(r.count == cap);
  if (h.since_offset)
    HERALD_FUZZ_CHECK(r.forward ? r.from == *h.since_offset + 1 : r.from + 1 == *h.since_offset);
  else
    HERALD_FUZZ_CHECK(r.from == (r.forward ? 1 : std::numeric_limits<uint64_t>::max()));
}

outcome history(const rapidjson::Value& params) {
  auto d = sa::decode_history(params);
  if (!d)
    return refusal(d);
  check_required(d->channel, params, "channel");
  const auto* limit = field(params, "limit");
  HERALD_FUZZ_CHECK(d->limit >= -1 && d->limit == (limit ? limit->GetInt64() : 0));
  const auto* since = field(params, "since");
  HERALD_FUZZ_CHECK(d->since_offset.has_value() == (since != nullptr));
  if (since) {
    const auto* offset = field(*since, "offset");
    HERALD_FUZZ_CHECK(*d->since_offset == (offset ? offset->GetUint64() : 0));
  }
  HERALD_FUZZ_CHECK(d->since_epoch == (since ? string_field(*since, "epoch") : ""));
  const auto* reverse = field(params, "reverse");
  HERALD_FUZZ_CHECK(d->reverse == (reverse && reverse->GetBool()));
  for (uint64_t cap : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, ~uint64_t{0}})
    check_plan(*d, cap);
  return std::nullopt;
}

/// A glob pattern's parts: `*`, `?`, or a literal character.
struct glob_part {
  enum { star, one, literal } kind;
  char c;
};

std::vector<glob_part> glob_parts(std::string_view pattern) {
  std::vector<glob_part> out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size())
      out.push_back({glob_part::literal, pattern[++i]});
    else if (pattern[i] == '*')
      out.push_back({glob_part::star, 0});
    else if (pattern[i] == '?')
      out.push_back({glob_part::one, 0});
    else
      out.push_back({glob_part::literal, pattern[i]});
  }
  return out;
}

/// The reference matcher: which prefixes of the parts match which prefixes
/// of the name, a row at a time.
bool glob_reference(const std::vector<glob_part>& parts, std::string_view name) {
  std::vector<char> row(name.size() + 1, 0), next(name.size() + 1);
  row[0] = 1;
  for (const auto& part : parts) {
    next.assign(name.size() + 1, 0);
    for (size_t n = 0; n <= name.size(); ++n) {
      if (part.kind == glob_part::star)
        next[n] = row[n] || (n > 0 && next[n - 1]);
      else if (n > 0)
        next[n] = row[n - 1] && (part.kind == glob_part::one || part.c == name[n - 1]);
    }
    row.swap(next);
  }
  return row[name.size()];
}

/// The pattern with every `*` matching nothing and every `?` an "x": a name
/// it must match.
std::string glob_instance(const std::vector<glob_part>& parts) {
  std::string out;
  for (const auto& part : parts)
    if (part.kind != glob_part::star)
      out += part.kind == glob_part::one ? 'x' : part.c;
  return out;
}

/// Names that differ from `name` in one character (the first few), or by
/// one at the end: near misses, where a matcher that takes an escaped
/// character or a `?` the wrong way tells.
std::vector<std::string> near_misses(const std::string& name) {
  std::vector<std::string> out{name + "x", name.substr(0, name.empty() ? 0 : name.size() - 1)};
  for (size_t i = 0; i < name.size() && i < 16; ++i) {
    out.push_back(name);
    out.back()[i] = static_cast<char>(name[i] ^ 1);
  }
  return out;
}

/// glob_match agrees with the reference on names to test: an instance of
/// the pattern and its near misses, the pattern itself, and the strings of
/// a "names" array in the body (not Centrifugo's, ignored by the decoder;
/// here for the fuzzer to vary).
void check_glob(std::string_view pattern, const rapidjson::Value& params) {
  auto parts = glob_parts(pattern);
  std::vector<std::string> names{glob_instance(parts), std::string(pattern), ""};
  for (auto& miss : near_misses(names[0]))
    names.push_back(std::move(miss));
  if (const auto* more = field(params, "names"); more && more->IsArray())
    for (const auto& n : more->GetArray())
      if (n.IsString())
        names.emplace_back(text_of(n));
  HERALD_FUZZ_CHECK(sa::glob_match(pattern, names[0]));
  for (const auto& name : names)
    // The reference is quadratic too; keep a run fast.
    if ((parts.size() + 1) * (name.size() + 1) <= (1u << 20))
      HERALD_FUZZ_CHECK(sa::glob_match(pattern, name) == glob_reference(parts, name));
}

outcome channels(const rapidjson::Value& params) {
  auto d = sa::decode_pattern(params);
  const auto* sent = field(params, "pattern");
  HERALD_FUZZ_CHECK(bool(d) == (!sent || sent->IsString()));
  if (!d)
    return refusal(d);
  HERALD_FUZZ_CHECK(*d == string_field(params, "pattern"));
  check_glob(*d, params);
  return std::nullopt;
}

outcome info(const rapidjson::Value&) {
  return std::nullopt; // info reads no params
}

outcome batch(const rapidjson::Value& params);

struct method {
  const char* name;
  outcome (*decode)(const rapidjson::Value&);
};

/// The methods of server_api.cpp, with the decoder each runs.
const method methods[] = {
  {"publish", publish},
  {"broadcast", broadcast},
  {"subscribe", subscription},
  {"unsubscribe", subscription},
  {"disconnect", disconnect},
  {"refresh", refresh},
  {"presence", channel},
  {"presence_stats", channel},
  {"history", history},
  {"history_remove", channel},
  {"channels", channels},
  {"info", info},
  {"batch", batch},
};

const method* find_method(std::string_view name) {
  for (const auto& m : methods)
    if (name == m.name)
      return &m;
  return nullptr;
}

const sa::error unknown_method{sa::code::not_found, "unknown method"};

/// Decodes one command of a batch or a legacy line as the server runs it:
/// an unknown method (batch inside batch too, when `nested`) is 104.
outcome run_command(const sa::command& c, const rapidjson::Value& params, bool nested) {
  if (c.problem) {
    HERALD_FUZZ_CHECK(c.problem->what == sa::code::bad_request);
    check_error(*c.problem);
    return c.problem;
  }
  const auto* m = find_method(c.method);
  if (!m || (nested && c.method == "batch"))
    return unknown_method;
  return m->decode(params);
}

/// A reply the way batch() writes it: {"METHOD":RESULT} or the error.
void append_reply(std::string& out, const std::string& method, const outcome& o) {
  if (o) {
    out += sa::error_envelope(*o);
    return;
  }
  out += '{';
  storage::append_json_string(out, method);
  out += ":{}}";
}

outcome batch(const rapidjson::Value& params) {
  std::optional<sa::error> problem;
  auto commands = sa::batch_commands(params, problem);
  const auto* sent = field(params, "commands");
  if (problem) {
    HERALD_FUZZ_CHECK(!sent || !sent->IsArray());
    HERALD_FUZZ_CHECK(commands.empty() && problem->what == sa::code::bad_request);
    check_error(*problem);
    return problem;
  }
  HERALD_FUZZ_CHECK(sent && sent->IsArray() && sent->Size() == commands.size());
  std::string replies = "{\"replies\":[";
  for (size_t i = 0; i < commands.size(); ++i) {
    const auto& c = commands[i];
    const auto& raw = (*sent)[static_cast<rapidjson::SizeType>(i)];
    const bool well_formed =
      raw.IsObject() && raw.MemberCount() == 1 && raw.MemberBegin()->value.IsObject();
    HERALD_FUZZ_CHECK(well_formed == !c.problem);
    HERALD_FUZZ_CHECK(well_formed ? c.params == &raw.MemberBegin()->value
                                      && c.method == text_of(raw.MemberBegin()->name)
                                  : c.params == nullptr && c.method.empty());
    if (i)
      replies += ',';
    append_reply(replies, c.method, run_command(c, c.params ? *c.params : raw, true));
  }
  replies += "]}";
  rapidjson::Document doc;
  HERALD_FUZZ_CHECK(parse_json(replies, doc) && doc.IsObject());
  HERALD_FUZZ_CHECK(doc.MemberBegin()->value.IsArray()
                    && doc.MemberBegin()->value.Size() == commands.size());
  return std::nullopt;
}

/// A method's decoder, or every decoder for a name that is none.
void decode(std::string_view method_name, const rapidjson::Value& params) {
  if (const auto* m = find_method(method_name)) {
    m->decode(params);
    return;
  }
  for (const auto& m : methods)
    m.decode(params);
}

/// A body parse_params accepted is an object within the nesting bound that
/// renders back as JSON holding the same values.
void check_params(std::string_view body,
                  const sa::decoded<std::shared_ptr<rapidjson::Document>>& d) {
  const bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (!d) {
    HERALD_FUZZ_CHECK(!blank && d.error().what == sa::code::bad_request);
    check_error(d.error());
    return;
  }
  const auto& doc = **d;
  HERALD_FUZZ_CHECK(doc.IsObject() && (!blank || doc.MemberCount() == 0));
  HERALD_FUZZ_CHECK(protocol::check_json_value(doc, protocol::max_payload_depth)
                    == protocol::json_value_status::ok);
  rapidjson::Document back;
  HERALD_FUZZ_CHECK(parse_json(sa::result_envelope(protocol::json_text(doc)), back)
                    && back.IsObject() && back.MemberCount() == 1
                    && same_json(back.MemberBegin()->value, doc));
}

/// legacy_lines keeps exactly the lines of the body with something on them.
void check_lines(std::string_view body, const std::vector<std::string_view>& lines) {
  size_t next = 0; // where the next line may start
  for (auto line : lines) {
    HERALD_FUZZ_CHECK(line.data() >= body.data() + next
                      && line.data() + line.size() <= body.data() + body.size());
    const size_t start = static_cast<size_t>(line.data() - body.data());
    const size_t end = start + line.size();
    HERALD_FUZZ_CHECK(start == 0 || body[start - 1] == '\n');
    HERALD_FUZZ_CHECK(end == body.size() || body[end] == '\n');
    HERALD_FUZZ_CHECK(line.find('\n') == std::string_view::npos);
    HERALD_FUZZ_CHECK(line.find_first_not_of(" \t\r") != std::string_view::npos);
    // Nothing but blanks and newlines between two lines kept.
    HERALD_FUZZ_CHECK(body.substr(next, start - next).find_first_not_of(" \t\r\n")
                      == std::string_view::npos);
    next = end;
  }
  HERALD_FUZZ_CHECK(body.substr(next).find_first_not_of(" \t\r\n") == std::string_view::npos);
}

/// POST /api: each line parsed and run on its own, the answers one per line.
void legacy(std::string_view body) {
  auto lines = sa::legacy_lines(body);
  check_lines(body, lines);
  static const rapidjson::Value no_params(rapidjson::kObjectType);
  std::string out;
  for (auto text : lines) {
    auto doc = sa::parse_params(text);
    check_params(text, doc);
    outcome o;
    if (!doc) {
      o = doc.error();
    } else {
      auto c = sa::legacy_command(**doc);
      const auto* sent_method = field(**doc, "method");
      const auto* sent_params = field(**doc, "params");
      const bool well_formed =
        sent_method && sent_method->IsString() && (!sent_params || sent_params->IsObject());
      HERALD_FUZZ_CHECK(well_formed == !c.problem);
      if (well_formed)
        HERALD_FUZZ_CHECK(c.method == text_of(*sent_method) && c.params == sent_params);
      o = run_command(c, c.params ? *c.params : no_params, false);
    }
    if (!out.empty())
      out += '\n';
    out += o ? sa::error_envelope(*o) : sa::result_envelope("{}");
  }
  // Every answer line is a JSON object.
  std::string_view rest = out;
  while (!rest.empty()) {
    rapidjson::Document answer;
    HERALD_FUZZ_CHECK(parse_json(next_line(rest), answer) && answer.IsObject());
  }
}

} // namespace

void server_api(std::string_view input) {
  auto method_name = next_line(input);
  if (method_name == "legacy")
    return legacy(input);
  auto params = sa::parse_params(input);
  check_params(input, params);
  if (params)
    decode(method_name, **params);
}

} // namespace herald::fuzz

HERALD_FUZZ_TARGET(herald::fuzz::server_api)
