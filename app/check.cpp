#include "app/check.hpp"

#include "gateway/tokens.hpp"
#include "storage/config_check.hpp"

#include <stdexcept>

namespace herald::app {

std::string check_settings(const config::settings& s) {
  try {
    gateway::token_verifier keys(gateway::token_keys{s.tokens.hmac_secret, s.tokens.rsa_public_key,
                                                     s.tokens.ecdsa_public_key, s.tokens.audience,
                                                     s.tokens.issuer});
  } catch (const std::invalid_argument& e) {
    return s.source + ": " + e.what();
  }
  return storage::check_definitions(s);
}

} // namespace herald::app
