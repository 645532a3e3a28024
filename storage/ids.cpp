#include "storage/ids.hpp"

namespace herald::storage {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

} // namespace

uuid_generator::uuid_generator() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  rng_.seed(seq);
}

std::string uuid_generator::next() {
  uint64_t hi = rng_();
  uint64_t lo = rng_();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL; // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; // RFC 4122 variant
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t v) {
    for (int i = 15; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23)
        ++pos;
      out[static_cast<size_t>(pos++)] = hex_digits[(v >> (i * 4)) & 0xf];
    }
  };
  put(hi);
  put(lo);
  return out;
}

std::string generated_event_id(std::string_view journal_id, uint64_t position) {
  // 13 characters of the journal id ("xxxxxxxx-xxxx"), then the fixed
  // version and variant digits, then 15 hex digits (60 bits) of position.
  std::string out;
  out.reserve(36);
  out.append(journal_id.substr(0, 13));
  out.append("-8000-8");
  char digits[15];
  for (int i = 14; i >= 0; --i) {
    digits[i] = hex_digits[position & 0xf];
    position >>= 4;
  }
  out.append(digits, 3);
  out.push_back('-');
  out.append(digits + 3, 12);
  return out;
}

std::optional<uint64_t> generated_id_position(std::string_view journal_id, std::string_view id) {
  if (id.size() != 36 || id.substr(0, 13) != journal_id.substr(0, 13)
      || id.substr(13, 7) != "-8000-8" || id[23] != '-')
    return std::nullopt;
  uint64_t position = 0;
  for (size_t i = 20; i < 36; ++i) {
    if (i == 23)
      continue;
    char c = id[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0)
      return std::nullopt;
    position = (position << 4) | static_cast<uint64_t>(v);
  }
  return position;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace herald::storage
