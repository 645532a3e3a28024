// Verifying the JWTs clients present (docs/security.md): connection tokens on
// connect and refresh, subscription tokens on subscribe and sub_refresh.
//
// libjwt checks signatures. What herald adds is the choice of key: it is
// picked by the algorithm family the token's header names (HS* takes the
// HMAC secret, RS* the RSA key, ES* the ECDSA key) and the token must verify
// under exactly that algorithm, so no token chooses its own key: "alg":"none",
// an unconfigured family, or an RSA public key replayed as an HMAC secret are
// all refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::gateway {

/// The keys and expectations tokens are checked against ([tokens] settings).
struct token_keys {
  std::string hmac_secret;      ///< HS256/384/512; empty: HMAC tokens refused
  std::string rsa_public_key;   ///< PEM; RS256/384/512; empty: refused
  std::string ecdsa_public_key; ///< PEM; ES256/384/512; empty: refused
  std::string audience;         ///< when set, "aud" must name it
  std::string issuer;           ///< when set, "iss" must equal it
};

enum class token_status : uint8_t {
  ok,
  malformed,             ///< not three base64url parts of JSON
  unsupported_algorithm, ///< none, unknown, or a family with no key configured
  bad_signature,
  expired,    ///< "exp" has passed (the client should fetch a new token: 109)
  bad_claims, ///< a claim of the wrong type, wrong aud/iss, or not yet valid
};

std::string_view to_string(token_status s);

struct token_claims {
  std::string sub;                   ///< the user; empty means anonymous
  std::optional<int64_t> exp;        ///< Unix seconds
  std::optional<int64_t> expire_at;  ///< overrides exp for expiry; 0 = never
  std::string info;                  ///< JSON text of "info"; empty if absent
  std::vector<std::string> channels; ///< connection tokens: server-side subscriptions
  std::string channel;               ///< subscription tokens: the channel
  std::string client;                ///< subscription tokens: the client id, if bound

  /// A subscription token names its channel; it is no connection token.
  bool for_subscription() const {
    return !channel.empty();
  }

  /// When what the token grants expires (Unix seconds), or nullopt if never.
  std::optional<int64_t> expires_at() const;
};

struct token_result {
  token_status status = token_status::malformed;
  std::string reason; ///< for logs; never sent to clients
  token_claims claims;

  bool ok() const {
    return status == token_status::ok;
  }
};

class token_verifier {
public:
  /// Throws std::invalid_argument naming the setting when a configured key
  /// is not a usable PEM public key of its family.
  explicit token_verifier(token_keys keys);
  ~token_verifier();
  token_verifier(const token_verifier&) = delete;
  token_verifier& operator=(const token_verifier&) = delete;

  /// Whether any key is configured (else every token is refused).
  bool configured() const;

  /// Checks signature, algorithm, time and claim types at `now` (Unix
  /// seconds). Thread-safe.
  token_result verify(std::string_view token, int64_t now) const;

private:
  token_keys keys_;
};

/// Untrusted text (a token's header, a client's channel name) made fit for a
/// log line: quoted, printable ASCII only (anything else as \xNN, so no
/// newline or terminal escape gets through), cut after `max_chars`.
std::string loggable(std::string_view text, size_t max_chars = 32);

/// The longest expiry timer armed at once. A token may name any time (year
/// 3000, or close to INT64_MAX seconds), which in a timer's nanoseconds would
/// overflow into the past; a timer that fires before the expiry arms the
/// next one.
constexpr std::chrono::milliseconds max_expiry_delay = std::chrono::hours(24);

/// How long to wait, at `now`, before checking an expiry at `expires` (both
/// Unix seconds): the time left, at most max_expiry_delay, plus `grace`.
std::chrono::milliseconds expiry_delay(int64_t expires, int64_t now,
                                       std::chrono::milliseconds grace);

/// Seconds since the Unix epoch, now.
int64_t unix_now();

} // namespace herald::gateway
