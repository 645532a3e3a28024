#include "protocol/append_outcome.hpp"

namespace herald::protocol {

std::optional<append_refusal> refusal_of(const storage::append_result& r) {
  using storage::append_status;
  switch (r.status) {
    case append_status::ok:
    case append_status::idempotent:
      return std::nullopt;
    case append_status::wrong_expected_version: {
      const auto actual = std::to_string(r.actual_version);
      return append_refusal{true,
                            409,
                            "wrong_expected_version",
                            "the stream is at version " + actual,
                            r.actual_version,
                            error_code::conflict,
                            "wrong expected version (actual " + actual + ")"};
    }
    case append_status::duplicate_id:
      return append_refusal{true,
                            409,
                            "duplicate_id",
                            r.message,
                            std::nullopt,
                            error_code::conflict,
                            "duplicate event id: " + r.message};
    case append_status::invalid:
      break;
  }
  return append_refusal{
    false, 400, "bad_request", r.message, std::nullopt, error_code::bad_request, r.message};
}

} // namespace herald::protocol
