#include "storage/id_hash.hpp"

#include "storage/errors.hpp"
#include "storage/ids.hpp"

#include <cstring>

namespace herald::storage {

namespace {

uint64_t rotl(uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

struct sip_state {
  uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }

  void absorb(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

uint64_t little_endian(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v |= uint64_t{p[i]} << (8 * i);
  return v;
}

/// SipHash-2-4 (Aumasson and Bernstein) of `in`.
uint64_t siphash(const id_hash_key& k, const std::string& in) {
  sip_state s{k[0] ^ 0x736f6d6570736575ULL, k[1] ^ 0x646f72616e646f6dULL,
              k[0] ^ 0x6c7967656e657261ULL, k[1] ^ 0x7465646279746573ULL};
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size(), whole = n - n % 8;
  for (size_t i = 0; i < whole; i += 8)
    s.absorb(little_endian(p + i, 8));
  s.absorb((uint64_t{n & 0xff} << 56) | little_endian(p + whole, n - whole));
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i)
    s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

} // namespace

id_hash_key parse_id_hash_key(std::string_view hex) {
  id_hash_key key{0, 0};
  if (hex.size() != 32)
    throw failure(errc::corrupt, "the journal's id_hash_key is not 32 hex digits");
  for (size_t i = 0; i < 32; ++i) {
    const int d = hex_value(hex[i]);
    if (d < 0)
      throw failure(errc::corrupt, "the journal's id_hash_key is not 32 hex digits");
    key[i / 16] = (key[i / 16] << 4) | static_cast<uint64_t>(d);
  }
  return key;
}

int64_t id_key(const id_hash_key& key, int64_t stream_id, std::string_view id) {
  // The stream id as 8 little-endian bytes, then the id.
  std::string in(8 + id.size(), '\0');
  for (int i = 0; i < 8; ++i)
    in[i] = static_cast<char>(static_cast<uint64_t>(stream_id) >> (8 * i));
  std::memcpy(in.data() + 8, id.data(), id.size());
  return static_cast<int64_t>(siphash(key, in));
}

} // namespace herald::storage
