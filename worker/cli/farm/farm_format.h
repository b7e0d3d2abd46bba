// How the farm commands print apps, builds and workers: aligned tables and detail blocks for
// people, and the protobuf JSON mapping (original field names, enums by name, every primitive
// field present) for scripts. Text that builds wrote (reasons, log lines) is made safe for a
// terminal before it is printed for people.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tempa/v1/control.pb.h"
#include "tempa/v1/farm.pb.h"

namespace tempa::cli::farm {

// The message as JSON (preserve_proto_field_names, enums as names, primitives always printed).
// Columns padded to their widest cell (the last one not padded), one line per row.
std::string Table(const std::vector<std::vector<std::string>>& rows);

nlohmann::json MessageJson(const google::protobuf::Message& message);
// As MessageJson, with "error": null when the build has none, so the key is always there.
nlohmann::json BuildJson(const tempa::v1::Build& build);
nlohmann::json BuildsJson(const tempa::v1::ListBuildsResponse& response);  // {"builds": [...]}
nlohmann::json AppsJson(const tempa::v1::ListAppsResponse& response);      // {"apps": [...]}

// Human output. `now` makes ages ("5m") and "(3h ago)" deterministic in tests.
std::string AppsTable(const tempa::v1::ListAppsResponse& response);
std::string AppDetails(const tempa::v1::App& app, absl::Time now);
std::string BuildsTable(const tempa::v1::ListBuildsResponse& response, absl::Time now);
std::string BuildDetails(const tempa::v1::Build& build, absl::Time now);
std::string WorkersTable(const tempa::v1::ListWorkersResponse& response, absl::Time now);
// "build b-7 FAILED (compile in step build): undefined: foo" and the like: the line that closes
// `builds logs --follow` and `trigger --follow`.
std::string BuildSummary(const tempa::v1::Build& build);

std::string StatusName(tempa::v1::BuildStatus status);
bool IsFinished(tempa::v1::BuildStatus status);
// The first 7 characters of a commit, "-" when it is not known yet.
std::string ShortCommit(absl::string_view commit);
// "42s", "5m", "3h", "2d" since `unix_ms`; "-" for 0.
std::string Age(int64_t unix_ms, absl::Time now);
// Control characters (other than tab when `keep_tab`) shown in caret notation ("^[") so a line a
// build printed cannot drive the reader's terminal.
std::string TerminalSafe(absl::string_view text, bool keep_tab = true);

}  // namespace tempa::cli::farm
