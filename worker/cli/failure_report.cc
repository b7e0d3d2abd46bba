#include "worker/cli/failure_report.h"

#include <ostream>
#include <string>

#include "common/build_error.h"
#include "nlohmann/json.hpp"

namespace tempa::cli {

int ReportFailure(absl::string_view command, const absl::Status& status, bool as_json,
                  std::ostream& out, std::ostream& err) {
  BuildFailure failure = FailureOf(status).value_or(BuildFailure{});
  err << "tempa: " << command << " failed [" << FailureKindName(failure.kind)
      << (failure.step.empty() ? "" : " in " + failure.step) << "]: " << status.message() << "\n";
  if (!failure.log_tail.empty()) {
    err << "--- last lines of the build log ---\n" << failure.log_tail << "\n";
  }
  if (as_json) {
    nlohmann::json error = {{"kind", FailureKindName(failure.kind)},
                            {"step", failure.step},
                            {"message", std::string(status.message())},
                            {"log_tail", failure.log_tail}};
    out << nlohmann::json{{"error", error}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace)
        << "\n";
  }
  return 1;
}

}  // namespace tempa::cli
