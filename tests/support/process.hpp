// Running a program to completion and capturing what it printed.
#pragma once

#include <string>
#include <vector>

namespace herald::test {

struct run_result {
  int exit_code = -1; ///< -1 when killed by a signal
  std::string out;
  std::string err;
};

/// Runs `argv[0]` with the given arguments, waits, returns its output.
run_result run(const std::vector<std::string>& argv);

} // namespace herald::test
