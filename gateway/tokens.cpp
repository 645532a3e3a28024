#include "gateway/tokens.hpp"

#include "protocol/json_value_check.hpp"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>

#include <chrono>
#include <stdexcept>

namespace herald::gateway {

namespace {

/// Decodes base64url without padding; nullopt on a bad character.
std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

enum class family : uint8_t { none, hmac, rsa, ecdsa };

family family_of(std::string_view alg) {
  if (alg == "HS256" || alg == "HS384" || alg == "HS512")
    return family::hmac;
  if (alg == "RS256" || alg == "RS384" || alg == "RS512")
    return family::rsa;
  if (alg == "ES256" || alg == "ES384" || alg == "ES512")
    return family::ecdsa;
  return family::none;
}

/// Checks that `pem` is a public key of the OpenSSL type `type`.
void check_public_key(const std::string& pem, int type, const char* setting) {
  if (pem.empty())
    return;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
    BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
    bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr, &EVP_PKEY_free);
  if (!key)
    throw std::invalid_argument(std::string(setting) + ": not a PEM public key");
  if (EVP_PKEY_base_id(key.get()) != type)
    throw std::invalid_argument(std::string(setting) + ": a PEM public key of the wrong type");
}

struct jwt_deleter {
  void operator()(jwt_t* j) const {
    jwt_free(j);
  }
};

token_result fail(token_status s, std::string reason) {
  token_result r;
  r.status = s;
  r.reason = std::move(reason);
  return r;
}

/// A numeric date claim; absent is fine, another type is not.
bool read_time(const rapidjson::Value& claims, const char* key, std::optional<int64_t>& out) {
  auto it = claims.FindMember(key);
  if (it == claims.MemberEnd())
    return true;
  if (it->value.IsInt64()) {
    out = it->value.GetInt64();
    return true;
  }
  if (it->value.IsDouble() && it->value.GetDouble() > -9e15 && it->value.GetDouble() < 9e15) {
    out = static_cast<int64_t>(it->value.GetDouble());
    return true;
  }
  return false;
}

bool read_string(const rapidjson::Value& claims, const char* key, std::string& out) {
  auto it = claims.FindMember(key);
  if (it == claims.MemberEnd())
    return true;
  if (!it->value.IsString())
    return false;
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

} // namespace

std::string_view to_string(token_status s) {
  switch (s) {
    case token_status::ok:
      return "ok";
    case token_status::malformed:
      return "malformed";
    case token_status::unsupported_algorithm:
      return "unsupported algorithm";
    case token_status::bad_signature:
      return "bad signature";
    case token_status::expired:
      return "expired";
    case token_status::bad_claims:
      return "bad claims";
  }
  return "malformed";
}

std::optional<int64_t> token_claims::expires_at() const {
  if (expire_at)
    return *expire_at > 0 ? expire_at : std::nullopt;
  return exp;
}

token_verifier::token_verifier(token_keys keys) : keys_(std::move(keys)) {
  check_public_key(keys_.rsa_public_key, EVP_PKEY_RSA, "tokens.rsa_public_key");
  check_public_key(keys_.ecdsa_public_key, EVP_PKEY_EC, "tokens.ecdsa_public_key");
}

token_verifier::~token_verifier() = default;

bool token_verifier::configured() const {
  return !keys_.hmac_secret.empty() || !keys_.rsa_public_key.empty()
         || !keys_.ecdsa_public_key.empty();
}

token_result token_verifier::verify(std::string_view token, int64_t now) const {
  // The header, read here only to pick the key: libjwt verifies it again.
  auto dot = token.find('.');
  if (token.size() > 16384 || dot == std::string_view::npos
      || token.find('.', dot + 1) == std::string_view::npos)
    return fail(token_status::malformed, "not a JWT");
  auto header_text = base64url_decode(token.substr(0, dot));
  if (!header_text)
    return fail(token_status::malformed, "header is not base64url");
  rapidjson::Document header;
  header.Parse(header_text->data(), header_text->size());
  if (header.HasParseError() || !header.IsObject())
    return fail(token_status::malformed, "header is not a JSON object");
  auto alg_it = header.FindMember("alg");
  if (alg_it == header.MemberEnd() || !alg_it->value.IsString())
    return fail(token_status::unsupported_algorithm, "no alg");
  std::string alg(alg_it->value.GetString(), alg_it->value.GetStringLength());
  const std::string* key = nullptr;
  switch (family_of(alg)) {
    case family::hmac:
      key = &keys_.hmac_secret;
      break;
    case family::rsa:
      key = &keys_.rsa_public_key;
      break;
    case family::ecdsa:
      key = &keys_.ecdsa_public_key;
      break;
    case family::none:
      return fail(token_status::unsupported_algorithm, "alg " + loggable(alg) + " is not accepted");
  }
  if (key->empty())
    return fail(token_status::unsupported_algorithm, "no key configured for " + loggable(alg));

  std::string text(token);
  jwt_t* raw = nullptr;
  int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key->data()),
                      static_cast<int>(key->size()));
  std::unique_ptr<jwt_t, jwt_deleter> jwt(raw);
  if (rc != 0 || !jwt)
    return fail(rc == EINVAL ? token_status::bad_signature : token_status::malformed,
                "signature does not verify");
  if (jwt_str_alg(alg.c_str()) != jwt_get_alg(jwt.get()))
    return fail(token_status::unsupported_algorithm, "alg changed while decoding");

  std::unique_ptr<char, decltype(&free)> grants(jwt_get_grants_json(jwt.get(), nullptr), &free);
  rapidjson::Document claims;
  if (grants)
    claims.Parse(grants.get());
  if (!grants || claims.HasParseError() || !claims.IsObject())
    return fail(token_status::malformed, "claims are not a JSON object");

  token_result r;
  auto& c = r.claims;
  std::optional<int64_t> nbf;
  if (!read_string(claims, "sub", c.sub) || !read_string(claims, "channel", c.channel)
      || !read_string(claims, "client", c.client) || !read_time(claims, "exp", c.exp)
      || !read_time(claims, "expire_at", c.expire_at) || !read_time(claims, "nbf", nbf))
    return fail(token_status::bad_claims, "a claim has the wrong type");
  if (auto it = claims.FindMember("info"); it != claims.MemberEnd())
    c.info = protocol::json_text(it->value);
  if (auto it = claims.FindMember("channels"); it != claims.MemberEnd()) {
    if (!it->value.IsArray())
      return fail(token_status::bad_claims, "channels is not an array");
    for (const auto& ch : it->value.GetArray()) {
      if (!ch.IsString() || ch.GetStringLength() == 0)
        return fail(token_status::bad_claims, "channels holds a non-string");
      c.channels.emplace_back(ch.GetString(), ch.GetStringLength());
    }
  }
  if (!keys_.issuer.empty()) {
    std::string iss;
    if (!read_string(claims, "iss", iss) || iss != keys_.issuer)
      return fail(token_status::bad_claims, "wrong issuer");
  }
  if (!keys_.audience.empty()) {
    bool found = false;
    if (auto it = claims.FindMember("aud"); it != claims.MemberEnd()) {
      if (it->value.IsString())
        found = keys_.audience == it->value.GetString();
      else if (it->value.IsArray())
        for (const auto& a : it->value.GetArray())
          found = found || (a.IsString() && keys_.audience == a.GetString());
    }
    if (!found)
      return fail(token_status::bad_claims, "wrong audience");
  }
  if (nbf && *nbf > now)
    return fail(token_status::bad_claims, "not valid yet");
  // An expiry in the past means: fetch a new token (109), checked last so
  // that a forged token never learns it was merely old.
  if (c.exp && *c.exp <= now) {
    r.status = token_status::expired;
    r.reason = "expired";
    return r;
  }
  r.status = token_status::ok;
  return r;
}

std::string loggable(std::string_view text, size_t max_chars) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < max_chars; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  out += text.size() > max_chars ? "\"..." : "\"";
  return out;
}

std::chrono::milliseconds expiry_delay(int64_t expires, int64_t now,
                                       std::chrono::milliseconds grace) {
  const auto limit = std::chrono::duration_cast<std::chrono::seconds>(max_expiry_delay).count();
  // Compared before subtracting, so that no claim can overflow the difference.
  int64_t left = expires <= now ? 0 : expires - now > limit ? limit : expires - now;
  return std::chrono::seconds(left) + grace;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace herald::gateway
