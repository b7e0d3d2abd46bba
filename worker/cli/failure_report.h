// How `tempa build` and `tempa detect` report a failure: one shape for both, so a script that
// reads one reads the other.
#pragma once

#include <iosfwd>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::cli {

// Prints "tempa: COMMAND failed [KIND in STEP]: MESSAGE" (and the log tail) on `err`, and with
// `as_json` {"error": {"kind", "step", "message", "log_tail"}} as one line on `out`. The kind
// and step come from the status's BuildFailure (common/build_error.h), `internal` without one.
// Returns the exit code for a failed run, 1.
int ReportFailure(absl::string_view command, const absl::Status& status, bool as_json,
                  std::ostream& out, std::ostream& err);

}  // namespace tempa::cli
