// Makes real JWTs for tests with OpenSSL directly (not libjwt, which herald
// verifies with), so the tests check herald against the standard format:
// HS* is an HMAC, RS* a PKCS#1 v1.5 signature, ES* the raw R||S pair.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace herald::test {

inline std::string base64url(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(abc[(acc >> bits) & 63]);
    }
  }
  if (bits > 0)
    out.push_back(abc[(acc << (6 - bits)) & 63]);
  return out;
}

/// A key pair of one family, with its public half as PEM.
class key_pair {
public:
  static key_pair rsa() {
    return key_pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  }
  static key_pair ec(const char* curve = "P-256") {
    return key_pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  }

  std::string public_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), key_.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  }

  EVP_PKEY* get() const {
    return key_.get();
  }

private:
  explicit key_pair(EVP_PKEY* k) : key_(k, &EVP_PKEY_free) {
    if (!k)
      throw std::runtime_error("key generation failed");
  }
  std::shared_ptr<EVP_PKEY> key_;
};

/// header.payload.signature for `alg` over the given JSON texts.
inline std::string sign_hmac(const std::string& alg, const std::string& payload_json,
                             const std::string& secret) {
  std::string input =
    base64url("{\"alg\":\"" + alg + "\",\"typ\":\"JWT\"}") + "." + base64url(payload_json);
  const EVP_MD* md = alg == "HS384" ? EVP_sha384() : alg == "HS512" ? EVP_sha512() : EVP_sha256();
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url(std::string(reinterpret_cast<char*>(mac), len));
}

inline std::string sign_key(const std::string& alg, const std::string& payload_json,
                            const key_pair& key) {
  std::string input =
    base64url("{\"alg\":\"" + alg + "\",\"typ\":\"JWT\"}") + "." + base64url(payload_json);
  const EVP_MD* md = EVP_sha256();
  if (alg.substr(2) == "384")
    md = EVP_sha384();
  else if (alg.substr(2) == "512")
    md = EVP_sha512();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.get());
  EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::vector<unsigned char> sig(len);
  EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string out(reinterpret_cast<char*>(sig.data()), len);
  if (alg[0] == 'E') {
    // OpenSSL signs ECDSA as DER; JWS wants R and S as fixed-size big-endian.
    const unsigned char* p = sig.data();
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> ecdsa(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)), &ECDSA_SIG_free);
    int half = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
    std::vector<unsigned char> raw(static_cast<size_t>(2 * half));
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), raw.data(), half);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), raw.data() + half, half);
    out.assign(reinterpret_cast<char*>(raw.data()), raw.size());
  }
  return input + "." + base64url(out);
}

} // namespace herald::test
