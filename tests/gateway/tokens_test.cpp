// The token verifier against real tokens of every accepted family, and
// against every way a token can be wrong: expired, forged, re-keyed, alg
// "none", claims of the wrong type, wrong audience or issuer.
#include "gateway/tokens.hpp"
#include "tests/gateway/token_signer.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace herald::test {
namespace {

using gateway::token_keys;
using gateway::token_status;
using gateway::token_verifier;

const int64_t now = 1'800'000'000;

token_keys hmac_keys(std::string secret = "s3cret") {
  token_keys k;
  k.hmac_secret = std::move(secret);
  return k;
}

TEST(tokens, hs256_with_claims) {
  token_verifier v(hmac_keys());
  auto r = v.verify(sign_hmac("HS256",
                              R"({"sub":"42","exp":1800000100,"info":{"name":"Ann"},)"
                              R"("channels":["chat:a","news"]})",
                              "s3cret"),
                    now);
  ASSERT_EQ(r.status, token_status::ok) << r.reason;
  EXPECT_EQ(r.claims.sub, "42");
  EXPECT_EQ(r.claims.exp, 1800000100);
  EXPECT_EQ(r.claims.expires_at(), 1800000100);
  EXPECT_EQ(r.claims.info, R"({"name":"Ann"})");
  EXPECT_EQ(r.claims.channels, (std::vector<std::string>{"chat:a", "news"}));
}

TEST(tokens, hs384_and_hs512) {
  token_verifier v(hmac_keys());
  EXPECT_TRUE(v.verify(sign_hmac("HS384", R"({"sub":"1"})", "s3cret"), now).ok());
  EXPECT_TRUE(v.verify(sign_hmac("HS512", R"({"sub":"1"})", "s3cret"), now).ok());
}

TEST(tokens, missing_claims_mean_anonymous_and_never_expiring) {
  token_verifier v(hmac_keys());
  auto r = v.verify(sign_hmac("HS256", "{}", "s3cret"), now);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.claims.sub, "");
  EXPECT_FALSE(r.claims.expires_at());
  EXPECT_TRUE(r.claims.channel.empty());
}

TEST(tokens, expiry) {
  token_verifier v(hmac_keys());
  EXPECT_EQ(v.verify(sign_hmac("HS256", R"({"sub":"1","exp":1799999999})", "s3cret"), now).status,
            token_status::expired);
  EXPECT_EQ(v.verify(sign_hmac("HS256", R"({"sub":"1","exp":1800000000})", "s3cret"), now).status,
            token_status::expired);
  // expire_at overrides exp for the expiry, and 0 means never.
  auto r = v.verify(sign_hmac("HS256", R"({"exp":1800000100,"expire_at":0})", "s3cret"), now);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.claims.expires_at());
  EXPECT_EQ(v.verify(sign_hmac("HS256", R"({"nbf":1800000100})", "s3cret"), now).status,
            token_status::bad_claims);
}

TEST(tokens, forged_or_tampered_signatures_fail) {
  token_verifier v(hmac_keys());
  EXPECT_EQ(v.verify(sign_hmac("HS256", R"({"sub":"1"})", "other"), now).status,
            token_status::bad_signature);
  auto good = sign_hmac("HS256", R"({"sub":"1"})", "s3cret");
  auto first_dot = good.find('.');
  auto second_dot = good.find('.', first_dot + 1);
  std::string tampered =
    good.substr(0, first_dot + 1) + base64url(R"({"sub":"admin"})") + good.substr(second_dot);
  EXPECT_EQ(v.verify(tampered, now).status, token_status::bad_signature);
  EXPECT_FALSE(v.verify(good.substr(0, good.size() - 2), now).ok());
}

TEST(tokens, alg_none_and_unknown_algorithms_are_refused) {
  token_verifier v(hmac_keys());
  auto payload = base64url(R"({"sub":"1"})");
  EXPECT_EQ(v.verify(base64url(R"({"alg":"none"})") + "." + payload + ".", now).status,
            token_status::unsupported_algorithm);
  EXPECT_EQ(v.verify(base64url(R"({"alg":"None"})") + "." + payload + ".", now).status,
            token_status::unsupported_algorithm);
  EXPECT_EQ(v.verify(base64url(R"({"alg":"PS256"})") + "." + payload + ".abc", now).status,
            token_status::unsupported_algorithm);
  EXPECT_EQ(v.verify(base64url(R"({"typ":"JWT"})") + "." + payload + ".abc", now).status,
            token_status::unsupported_algorithm);
}

// The header's alg is the attacker's text; the reason goes to the log, so it
// may hold no newline, escape or quote of its own, and no more than a few
// dozen characters of it.
TEST(tokens, an_unknown_alg_is_logged_escaped_and_cut) {
  token_verifier v(hmac_keys());
  auto payload = base64url(R"({"sub":"1"})");
  auto header =
    R"({"alg":"PS256\n[info] forged \"line\"\u001b[31m)" + std::string(200, 'x') + R"("})";
  auto r = v.verify(base64url(header) + "." + payload + ".abc", now);
  ASSERT_EQ(r.status, token_status::unsupported_algorithm);
  EXPECT_EQ(r.reason.find('\n'), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find('\x1b'), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find(R"("PS256\x0a[info] forged \x22line\x22\x1b[31m)"), std::string::npos)
    << r.reason;
  EXPECT_LT(r.reason.size(), 100u) << r.reason;
}

TEST(tokens, loggable_text) {
  EXPECT_EQ(gateway::loggable("HS256"), R"("HS256")");
  EXPECT_EQ(gateway::loggable("a\r\nb\\"), R"("a\x0d\x0ab\x5c")");
  EXPECT_EQ(gateway::loggable("\xc3\xa9"), R"("\xc3\xa9")");
  EXPECT_EQ(gateway::loggable("abcdef", 3), R"("abc"...)");
}

// A subscription token names its channel; connect and refresh refuse it as
// a connection token (docs/security.md).
TEST(tokens, a_subscription_token_says_so) {
  token_verifier v(hmac_keys());
  auto sub = v.verify(sign_hmac("HS256", R"({"sub":"1","channel":"$chat:x"})", "s3cret"), now);
  ASSERT_TRUE(sub.ok()) << sub.reason;
  EXPECT_TRUE(sub.claims.for_subscription());
  auto conn = v.verify(sign_hmac("HS256", R"({"sub":"1","channels":["chat:x"]})", "s3cret"), now);
  ASSERT_TRUE(conn.ok()) << conn.reason;
  EXPECT_FALSE(conn.claims.for_subscription());
}

// Far-future expiries are valid tokens; the timer armed for them is clamped
// to max_expiry_delay (a day), never overflowing into the past.
TEST(tokens, far_future_expiry) {
  token_verifier v(hmac_keys());
  for (const char* exp : {"32503680000", "9223372036854775000", "9223372036854775807"}) {
    auto r =
      v.verify(sign_hmac("HS256", std::string(R"({"sub":"1","exp":)") + exp + "}", "s3cret"), now);
    ASSERT_TRUE(r.ok()) << exp << ": " << r.reason;
    ASSERT_TRUE(r.claims.expires_at());
    auto delay = gateway::expiry_delay(*r.claims.expires_at(), now, std::chrono::seconds(25));
    EXPECT_EQ(delay, gateway::max_expiry_delay + std::chrono::seconds(25)) << exp;
    // What the timer does with it: nanoseconds, positive.
    EXPECT_GT(std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count(), 0) << exp;
  }
}

TEST(tokens, expiry_delay) {
  using namespace std::chrono_literals;
  EXPECT_EQ(gateway::expiry_delay(now + 10, now, 25s), 35s);
  EXPECT_EQ(gateway::expiry_delay(now - 10, now, 25s), 25s);
  EXPECT_EQ(gateway::expiry_delay(std::numeric_limits<int64_t>::min(), now, 1s), 1s);
  EXPECT_EQ(gateway::expiry_delay(std::numeric_limits<int64_t>::max(), now, 0s),
            gateway::max_expiry_delay);
}

TEST(tokens, malformed_tokens) {
  token_verifier v(hmac_keys());
  for (std::string bad : {"", "abc", "a.b", "...", "!!.??.**", "e30.e30.", "W10.e30.e30"})
    EXPECT_EQ(v.verify(bad, now).status == token_status::ok, false) << bad;
  EXPECT_EQ(v.verify(std::string(20000, 'a') + ".b.c", now).status, token_status::malformed);
}

TEST(tokens, claims_of_the_wrong_type) {
  token_verifier v(hmac_keys());
  for (std::string claims :
       {R"({"sub":42})", R"({"exp":"tomorrow"})", R"({"channels":"chat:a"})", R"({"channels":[1]})",
        R"({"channel":["a"]})", R"({"client":{}})", "[1,2]"})
    EXPECT_EQ(v.verify(sign_hmac("HS256", claims, "s3cret"), now).status == token_status::ok, false)
      << claims;
}

TEST(tokens, rs256_and_es256) {
  auto rsa = key_pair::rsa();
  auto ec = key_pair::ec();
  token_keys keys;
  keys.rsa_public_key = rsa.public_pem();
  keys.ecdsa_public_key = ec.public_pem();
  token_verifier v(keys);
  auto r = v.verify(sign_key("RS256", R"({"sub":"7"})", rsa), now);
  EXPECT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.claims.sub, "7");
  r = v.verify(sign_key("ES256", R"({"sub":"8"})", ec), now);
  EXPECT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.claims.sub, "8");
  // Signed by other keys of the same families.
  EXPECT_EQ(v.verify(sign_key("RS256", R"({"sub":"7"})", key_pair::rsa()), now).status,
            token_status::bad_signature);
  EXPECT_EQ(v.verify(sign_key("ES256", R"({"sub":"8"})", key_pair::ec()), now).status,
            token_status::bad_signature);
  // No HMAC secret configured: HMAC tokens are refused whatever they hold.
  EXPECT_EQ(v.verify(sign_hmac("HS256", R"({"sub":"7"})", ""), now).status,
            token_status::unsupported_algorithm);
}

// The classic confusion attack: an HS256 token whose HMAC key is the
// server's public RSA key. The RSA key is never used as an HMAC secret.
TEST(tokens, a_public_key_is_never_an_hmac_secret) {
  auto rsa = key_pair::rsa();
  token_keys keys;
  keys.rsa_public_key = rsa.public_pem();
  keys.hmac_secret = "s3cret";
  token_verifier v(keys);
  EXPECT_EQ(v.verify(sign_hmac("HS256", R"({"sub":"1"})", rsa.public_pem()), now).status,
            token_status::bad_signature);
  token_keys rsa_only;
  rsa_only.rsa_public_key = rsa.public_pem();
  token_verifier w(rsa_only);
  EXPECT_EQ(w.verify(sign_hmac("HS256", R"({"sub":"1"})", rsa.public_pem()), now).status,
            token_status::unsupported_algorithm);
  // An RSA-signed token does not verify against the ECDSA key either.
  token_keys ec_only;
  ec_only.ecdsa_public_key = key_pair::ec().public_pem();
  token_verifier x(ec_only);
  EXPECT_EQ(x.verify(sign_key("RS256", R"({"sub":"1"})", rsa), now).status,
            token_status::unsupported_algorithm);
}

TEST(tokens, audience_and_issuer_when_configured) {
  auto keys = hmac_keys();
  keys.audience = "herald";
  keys.issuer = "https://auth.example";
  token_verifier v(keys);
  auto sign = [](std::string claims) { return sign_hmac("HS256", claims, "s3cret"); };
  EXPECT_TRUE(v.verify(sign(R"({"aud":"herald","iss":"https://auth.example"})"), now).ok());
  EXPECT_TRUE(v.verify(sign(R"({"aud":["x","herald"],"iss":"https://auth.example"})"), now).ok());
  EXPECT_EQ(v.verify(sign(R"({"aud":"other","iss":"https://auth.example"})"), now).status,
            token_status::bad_claims);
  EXPECT_EQ(v.verify(sign(R"({"aud":"herald"})"), now).status, token_status::bad_claims);
  EXPECT_EQ(v.verify(sign(R"({"iss":"https://auth.example"})"), now).status,
            token_status::bad_claims);
}

TEST(tokens, bad_keys_are_refused_at_start) {
  token_keys k;
  k.rsa_public_key = "not a key";
  EXPECT_THROW(token_verifier{k}, std::invalid_argument);
  token_keys wrong_type;
  wrong_type.rsa_public_key = key_pair::ec().public_pem();
  EXPECT_THROW(token_verifier{wrong_type}, std::invalid_argument);
  token_keys none;
  EXPECT_FALSE(token_verifier(none).configured());
  EXPECT_EQ(token_verifier(none).verify(sign_hmac("HS256", "{}", ""), now).status,
            token_status::unsupported_algorithm);
}

} // namespace
} // namespace herald::test
