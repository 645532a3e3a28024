#include "storage/msgpack_json.hpp"

#include <msgpack.hpp>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <cstring>

namespace herald::storage {

namespace {

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes a finite double in its shortest round-trip digits, in fixed or
/// exponent notation, whichever is about as short. RapidJSON's own writer
/// spells out every digit up to 1e21 (1e20 as 22 characters); here 1e20 is
/// `1e20`, 1.5e-7 `1.5e-7`, 0.1 `0.1`. A value that is a whole number in
/// fixed notation keeps a `.0` (100.0, -0.0), so it reads back as a
/// double, not an integer; fixed notation is chosen while it is at most two
/// characters longer than the exponent form, so a number renders at most
/// four characters longer than its shortest spelling.
bool write_double(double d, json_writer& w) {
  char sci[32];
  auto [end, ec] = std::to_chars(sci, sci + sizeof sci, d, std::chars_format::scientific);
  if (ec != std::errc{} || !std::isfinite(d))
    return w.Null();
  // sci is "-d.ddde+XX": split it into sign, digits and exponent.
  std::string_view text(sci, static_cast<size_t>(end - sci));
  const bool negative = text.front() == '-';
  if (negative)
    text.remove_prefix(1);
  const auto e_at = text.find('e');
  std::string digits(text.substr(0, e_at));
  if (digits.size() > 1)
    digits.erase(1, 1); // the '.'
  int exponent = 0;
  auto exp_text = text.substr(e_at + 1);
  if (!exp_text.empty() && exp_text.front() == '+')
    exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  const std::string sign = negative ? "-" : "";
  std::string exp_form = sign + digits.substr(0, 1);
  if (digits.size() > 1)
    exp_form += "." + digits.substr(1);
  exp_form += "e" + std::to_string(exponent);
  std::string fixed = sign;
  bool whole = false;
  const auto n = static_cast<int>(digits.size());
  if (exponent < 0) {
    fixed += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  } else if (exponent >= n - 1) {
    fixed += digits + std::string(static_cast<size_t>(exponent - (n - 1)), '0');
    whole = true;
  } else {
    fixed += digits.substr(0, static_cast<size_t>(exponent) + 1) + "."
             + digits.substr(static_cast<size_t>(exponent) + 1);
  }
  if (fixed.size() > exp_form.size() + 2)
    return w.RawValue(exp_form.data(), exp_form.size(), rapidjson::kNumberType);
  if (whole)
    fixed += ".0";
  return w.RawValue(fixed.data(), fixed.size(), rapidjson::kNumberType);
}

bool write_json(const msgpack::object& o, json_writer& w, size_t depth) {
  if (depth > 256)
    return false;
  switch (o.type) {
    case msgpack::type::NIL:
      return w.Null();
    case msgpack::type::BOOLEAN:
      return w.Bool(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER:
      return w.Uint64(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return w.Int64(o.via.i64);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return write_double(o.via.f64, w);
    case msgpack::type::STR:
      return w.String(o.via.str.ptr, static_cast<rapidjson::SizeType>(o.via.str.size));
    case msgpack::type::BIN:
      return w.String(o.via.bin.ptr, static_cast<rapidjson::SizeType>(o.via.bin.size));
    case msgpack::type::ARRAY:
      w.StartArray();
      for (uint32_t i = 0; i < o.via.array.size; ++i)
        if (!write_json(o.via.array.ptr[i], w, depth + 1))
          return false;
      return w.EndArray();
    case msgpack::type::MAP:
      w.StartObject();
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        if (kv.key.type == msgpack::type::STR) {
          w.Key(kv.key.via.str.ptr, static_cast<rapidjson::SizeType>(kv.key.via.str.size));
        } else {
          // JSON keys are strings: render other keys as their JSON text.
          rapidjson::StringBuffer kb;
          json_writer kw(kb);
          if (!write_json(kv.key, kw, depth + 1))
            return false;
          w.Key(kb.GetString(), static_cast<rapidjson::SizeType>(kb.GetSize()));
        }
        if (!write_json(kv.val, w, depth + 1))
          return false;
      }
      return w.EndObject();
    default:
      return w.Null(); // ext types: not produced by herald
  }
}

} // namespace

bool msgpack_sax_writer::Null() {
  out_.push_back(static_cast<char>(0xc0));
  return true;
}

bool msgpack_sax_writer::Bool(bool b) {
  out_.push_back(static_cast<char>(b ? 0xc3 : 0xc2));
  return true;
}

bool msgpack_sax_writer::Int64(int64_t i) {
  if (i >= 0)
    return Uint64(static_cast<uint64_t>(i));
  if (i >= -32) {
    out_.push_back(static_cast<char>(i));
  } else if (i >= INT8_MIN) {
    out_.push_back(static_cast<char>(0xd0));
    put_be(out_, static_cast<uint8_t>(i), 1);
  } else if (i >= INT16_MIN) {
    out_.push_back(static_cast<char>(0xd1));
    put_be(out_, static_cast<uint16_t>(i), 2);
  } else if (i >= INT32_MIN) {
    out_.push_back(static_cast<char>(0xd2));
    put_be(out_, static_cast<uint32_t>(i), 4);
  } else {
    out_.push_back(static_cast<char>(0xd3));
    put_be(out_, static_cast<uint64_t>(i), 8);
  }
  return true;
}

bool msgpack_sax_writer::Uint64(uint64_t u) {
  if (u < 128) {
    out_.push_back(static_cast<char>(u));
  } else if (u <= UINT8_MAX) {
    out_.push_back(static_cast<char>(0xcc));
    put_be(out_, u, 1);
  } else if (u <= UINT16_MAX) {
    out_.push_back(static_cast<char>(0xcd));
    put_be(out_, u, 2);
  } else if (u <= UINT32_MAX) {
    out_.push_back(static_cast<char>(0xce));
    put_be(out_, u, 4);
  } else {
    out_.push_back(static_cast<char>(0xcf));
    put_be(out_, u, 8);
  }
  return true;
}

bool msgpack_sax_writer::Double(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  out_.push_back(static_cast<char>(0xcb));
  put_be(out_, bits, 8);
  return true;
}

bool msgpack_sax_writer::String(const char* s, rapidjson::SizeType n, bool) {
  if (n < 32) {
    out_.push_back(static_cast<char>(0xa0 | n));
  } else if (n <= UINT8_MAX) {
    out_.push_back(static_cast<char>(0xd9));
    put_be(out_, n, 1);
  } else if (n <= UINT16_MAX) {
    out_.push_back(static_cast<char>(0xda));
    put_be(out_, n, 2);
  } else {
    out_.push_back(static_cast<char>(0xdb));
    put_be(out_, n, 4);
  }
  out_.append(s, n);
  return true;
}

bool msgpack_sax_writer::open(unsigned char tag) {
  open_.push_back(out_.size());
  out_.push_back(static_cast<char>(tag));
  out_.append(4, '\0');
  return true;
}

bool msgpack_sax_writer::close(rapidjson::SizeType count) {
  size_t at = open_.back() + 1;
  open_.pop_back();
  for (int i = 0; i < 4; ++i)
    out_[at + static_cast<size_t>(i)] = static_cast<char>((count >> ((3 - i) * 8)) & 0xff);
  return true;
}

bool valid_json_to_msgpack(std::string_view json, std::string& out) {
  // Full precision is exact for every finite number, and the text was
  // checked for finite numbers before it was stored anywhere.
  constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag;
  rapidjson::MemoryStream ms(json.data(), json.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  msgpack_sax_writer handler(out);
  rapidjson::Reader reader;
  return !reader.Parse<flags>(is, handler).IsError();
}

bool msgpack_to_json(std::string_view mp, std::string& out) {
  if (mp.empty()) {
    out += "null";
    return true;
  }
  try {
    size_t offset = 0;
    auto handle = msgpack::unpack(mp.data(), mp.size(), offset);
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    if (!write_json(handle.get(), w, 0))
      return false;
    out.append(buffer.GetString(), buffer.GetSize());
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void append_json_string(std::string& out, std::string_view text) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  out.append(buffer.GetString(), buffer.GetSize());
}

} // namespace herald::storage
