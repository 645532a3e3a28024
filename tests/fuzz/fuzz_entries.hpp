// The fuzz entry points: one per target, each taking one input as bytes. The
// libFuzzer executables (HERALD_FUZZ=ON, scripts/fuzz.sh) call them from
// LLVMFuzzerTestOneInput; the replay test (replay_test.cpp) calls them on
// every kept corpus file and regression input in the ordinary build, so they
// run without clang too. An input that breaks a parser or one of the checked
// invariants aborts (HERALD_FUZZ_CHECK) or trips a sanitizer.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace herald::fuzz {

/// A WebSocket message through the client-frame decoder, the typed field
/// accessors and the payload codec, the way the session actor uses them.
void client_frame(std::string_view input);

/// A REST request: line 1 is the target ("/api/streams/s?from=1"), line 2
/// "Expected-Version: V" (any other line: no such header), the rest the body
/// of POST /api/streams/{stream}.
void rest_body(std::string_view input);

/// A TOML configuration through the loader.
void config(std::string_view input);

/// A Centrifugo server API request: line 1 is the method ("publish"), the
/// rest the body of POST /api/<method>; for the method "legacy", the body
/// of POST /api (newline-delimited {"method","params"} lines).
void server_api(std::string_view input);

/// Aborts, naming the broken invariant: libFuzzer saves the input as a crash,
/// and the replay test fails.
[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
  std::abort();
}

} // namespace herald::fuzz

#define HERALD_FUZZ_CHECK(cond)                                                                    \
  ((cond) ? static_cast<void>(0) : ::herald::fuzz::check_failed(#cond, __FILE__, __LINE__))

/// Defines the libFuzzer entry of a target in the fuzz build only.
#ifdef HERALD_LIBFUZZER
#include <cstddef>
#include <cstdint>
#define HERALD_FUZZ_TARGET(entry)                                                                  \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {                        \
    entry(std::string_view(reinterpret_cast<const char*>(data), size));                            \
    return 0;                                                                                      \
  }
#else
#define HERALD_FUZZ_TARGET(entry)
#endif
