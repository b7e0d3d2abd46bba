#include "worker/cli/farm/farm_format.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "worker/cli/farm/deploy_format.h"

namespace tempa::cli::farm {

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

namespace {

using Row = std::vector<std::string>;

// "label:  value" lines with the values aligned; empty values are left out.
std::string Block(const std::string& title,
                  const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [label, value] : fields) {
    if (!value.empty()) width = std::max(width, label.size());
  }
  std::string out = absl::StrCat(title, "\n");
  for (const auto& [label, value] : fields) {
    if (value.empty()) continue;
    absl::StrAppend(&out, "  ", label, ":", std::string(width - label.size() + 2, ' '), value,
                    "\n");
  }
  return out;
}

absl::Time FromUnixMs(int64_t unix_ms) { return absl::FromUnixMillis(unix_ms); }

// "2026-11-30 15:04:05 UTC (5m ago)"; "" for 0.
std::string When(int64_t unix_ms, absl::Time now) {
  if (unix_ms == 0) return "";
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromUnixMs(unix_ms), absl::UTCTimeZone()), " (",
      Age(unix_ms, now), " ago)");
}

std::string ShortDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  int64_t seconds = absl::ToInt64Seconds(d);
  if (seconds < 120) return absl::StrCat(seconds, "s");
  if (seconds < 2 * 3600) return absl::StrCat(seconds / 60, "m");
  if (seconds < 2 * 86400) return absl::StrCat(seconds / 3600, "h");
  return absl::StrCat(seconds / 86400, "d");
}

std::string Bytes(int64_t size) {
  if (size < 1024) return absl::StrCat(size, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(size) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

std::string LayerRoleName(tempa::v1::LayerRole role) {
  std::string name = tempa::v1::LayerRole_Name(role);
  if (absl::StartsWith(name, "LAYER_ROLE_")) name = name.substr(11);
  return absl::AsciiStrToLower(name);
}

// What the last column of `builds list` shows: where the image went, why it did not, or where
// the build is.
std::string Outcome(const tempa::v1::Build& build) {
  using tempa::v1::BuildStatus;
  switch (build.status()) {
    case tempa::v1::SUCCEEDED:
      return build.image();
    case tempa::v1::SUPERSEDED:
      if (!build.superseded_by().empty())
        return absl::StrCat("superseded by ", build.superseded_by());
      break;
    case tempa::v1::RUNNING:
      return absl::StrCat(build.step().empty() ? "starting" : build.step(),
                          build.worker_id().empty() ? "" : absl::StrCat(" on ", build.worker_id()));
    case tempa::v1::QUEUED:
      return build.attempt() > 0 ? absl::StrCat("attempt ", build.attempt() + 1) : "";
    default:
      break;
  }
  if (!build.has_error()) return "";
  std::string kind = build.error().kind();
  std::string reason(absl::StripAsciiWhitespace(
      std::vector<std::string>(absl::StrSplit(build.error().reason(), '\n')).front()));
  if (kind.empty()) return TerminalSafe(reason, false);
  return TerminalSafe(reason.empty() ? kind : absl::StrCat(kind, ": ", reason), false);
}

}  // namespace

nlohmann::json MessageJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.always_print_enums_as_ints = false;
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) return nlohmann::json::object();  // only on an invalid UTF-8 string field
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json BuildJson(const tempa::v1::Build& build) {
  nlohmann::json json = MessageJson(build);
  if (!json.contains("error")) json["error"] = nullptr;
  return json;
}

nlohmann::json BuildsJson(const tempa::v1::ListBuildsResponse& response) {
  nlohmann::json builds = nlohmann::json::array();
  for (const tempa::v1::Build& build : response.builds()) builds.push_back(BuildJson(build));
  return {{"builds", std::move(builds)}};
}

nlohmann::json AppsJson(const tempa::v1::ListAppsResponse& response) {
  nlohmann::json apps = nlohmann::json::array();
  for (const tempa::v1::App& app : response.apps()) apps.push_back(MessageJson(app));
  return {{"apps", std::move(apps)}};
}

std::string AppsTable(const tempa::v1::ListAppsResponse& response) {
  if (response.apps().empty()) {
    return "no apps yet; connect one: tempa apps create NAME --repo URL\n";
  }
  std::vector<Row> rows = {{"NAME", "BRANCH", "PATH", "REPO", "WEBHOOK", "POLL"}};
  for (const tempa::v1::App& app : response.apps()) {
    rows.push_back({app.name(), app.branch(), app.path().empty() ? "/" : app.path(), app.repo_url(),
                    app.has_webhook_secret() ? "signed" : "unsigned",
                    app.poll_interval_seconds() > 0
                        ? ShortDuration(absl::Seconds(app.poll_interval_seconds()))
                        : "-"});
  }
  return Table(rows);
}

std::string AppDetails(const tempa::v1::App& app, absl::Time now) {
  std::vector<std::string> env;
  for (const auto& [key, value] : app.build_env()) env.push_back(absl::StrCat(key, "=", value));
  std::sort(env.begin(), env.end());
  return Block(absl::StrCat("app ", app.name()),
               {{"repo", app.repo_url()},
                {"branch", app.branch()},
                {"path", app.path().empty() ? "/ (the repository's root)" : app.path()},
                {"build env", env.empty() ? "(none)" : absl::StrJoin(env, " ")},
                {"start", app.start_command().empty()
                              ? "the repository's (tempa.toml, Procfile or detection)"
                              : absl::StrCat(app.start_command(), " (app settings)")},
                {"webhook", app.has_webhook_secret() ? "secret set (deliveries must be signed)"
                                                     : "no secret (deliveries are not signed)"},
                {"git auth",
                 app.has_git_credentials() ? "credentials set" : "none (public repository)"},
                {"polling",
                 app.poll_interval_seconds() > 0
                     ? absl::StrCat(
                           "every ", ShortDuration(absl::Seconds(app.poll_interval_seconds())),
                           app.last_poll_error().empty()
                               ? ""
                               : absl::StrCat("; the last poll failed: ", app.last_poll_error()))
                     : "off (webhooks only)"},
                {"concurrency", app.max_concurrent_builds() > 0
                                    ? absl::StrCat(app.max_concurrent_builds(), " builds at a time")
                                    : "the coordinator's default"},
                {"created", When(app.created_unix_ms(), now)},
                {"updated", When(app.updated_unix_ms(), now)}}) +
         Block("  deploy settings (tempa apps set)", DeploySettingsFields(app.deploy()));
}

std::string BuildsTable(const tempa::v1::ListBuildsResponse& response, absl::Time now) {
  if (response.builds().empty()) return "no builds\n";
  std::vector<Row> rows = {{"ID", "APP", "STATUS", "COMMIT", "AGE", "IMAGE/ERROR"}};
  for (const tempa::v1::Build& build : response.builds()) {
    rows.push_back({build.id(), build.app(), StatusName(build.status()),
                    ShortCommit(build.commit()), Age(build.queued_unix_ms(), now), Outcome(build)});
  }
  return Table(rows);
}

std::string BuildDetails(const tempa::v1::Build& build, absl::Time now) {
  std::string trigger = tempa::v1::BuildTrigger_Name(build.trigger());
  if (build.trigger() == tempa::v1::BUILD_TRIGGER_UNSPECIFIED) trigger.clear();
  if (!build.delivery_id().empty())
    absl::StrAppend(&trigger, " (delivery ", build.delivery_id(), ")");
  std::string finished = When(build.finished_unix_ms(), now);
  if (!finished.empty() && build.started_unix_ms() > 0) {
    absl::StrAppend(
        &finished, ", took ",
        ShortDuration(absl::Milliseconds(build.finished_unix_ms() - build.started_unix_ms())));
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"app", build.app()},
      {"status", StatusName(build.status())},
      {"branch", build.branch()},
      {"commit", build.commit().empty() ? "(the branch head, not resolved yet)" : build.commit()},
      {"trigger", trigger},
      {"worker", build.worker_id().empty()
                     ? ""
                     : absl::StrCat(build.worker_id(), " (attempt ", build.attempt(), ")")},
      {"step", build.status() == tempa::v1::RUNNING ? build.step() : ""},
      {"language", build.language()},
      {"queued", When(build.queued_unix_ms(), now)},
      {"started", When(build.started_unix_ms(), now)},
      {"finished", finished},
      {"image", build.image()},
      {"superseded by", build.superseded_by()},
      {"cancel", build.cancel_requested() && !IsFinished(build.status()) ? "requested" : ""},
  };
  for (const tempa::v1::LayerDescriptor& layer : build.layers()) {
    fields.push_back(
        {"layer", absl::StrCat(LayerRoleName(layer.role()), " ", layer.digest(), " ",
                               Bytes(layer.size()), layer.reused() ? " (reused)" : " (built)")});
  }
  for (auto& field : BuildDeployFields(build.deploy())) fields.push_back(std::move(field));
  if (build.has_error()) {
    fields.push_back({"error kind", TerminalSafe(build.error().kind(), false)});
    fields.push_back({"error step", TerminalSafe(build.error().step(), false)});
    fields.push_back({"reason", TerminalSafe(build.error().reason(), false)});
  }
  std::string out = Block(absl::StrCat("build ", build.id()), fields);
  if (build.has_error() && !build.error().log_tail().empty()) {
    absl::StrAppend(&out, "  log tail:\n");
    for (absl::string_view line : absl::StrSplit(build.error().log_tail(), '\n')) {
      absl::StrAppend(&out, "    | ", TerminalSafe(line), "\n");
    }
  }
  if (!build.deploy().log_tail().empty()) {
    absl::StrAppend(&out, "  deploy log tail:\n");
    for (absl::string_view line : absl::StrSplit(build.deploy().log_tail(), '\n')) {
      absl::StrAppend(&out, "    | ", TerminalSafe(line), "\n");
    }
  }
  if (!IsFinished(build.status())) {
    absl::StrAppend(&out, "  follow it: tempa builds logs ", build.id(), " --follow\n");
  }
  return out;
}

std::string WorkersTable(const tempa::v1::ListWorkersResponse& response, absl::Time now) {
  if (response.workers().empty()) {
    return "no workers have connected; start one: tempa-worker --coordinator HOST:PORT "
           "--work-dir DIR\n";
  }
  std::vector<Row> rows = {{"ID", "HOST", "STATE", "SLOTS", "LAST SEEN", "RUNNING"}};
  for (const tempa::v1::Worker& worker : response.workers()) {
    rows.push_back(
        {worker.id(), worker.hostname(), worker.connected() ? "connected" : "gone",
         absl::StrCat(worker.running_builds_size(), "/", worker.slots()),
         worker.last_seen_unix_ms() > 0 ? absl::StrCat(Age(worker.last_seen_unix_ms(), now), " ago")
                                        : "-",
         worker.running_builds().empty() ? "-" : absl::StrJoin(worker.running_builds(), ",")});
  }
  return Table(rows);
}

std::string BuildSummary(const tempa::v1::Build& build) {
  std::string line = absl::StrCat("build ", build.id(), " ", StatusName(build.status()));
  if (build.status() == tempa::v1::SUCCEEDED) {
    if (!build.image().empty()) absl::StrAppend(&line, ": ", build.image());
    return line;
  }
  if (build.status() == tempa::v1::SUPERSEDED && !build.superseded_by().empty()) {
    absl::StrAppend(&line, " by ", build.superseded_by());
  }
  if (build.has_error()) {
    const tempa::v1::BuildError& error = build.error();
    if (!error.kind().empty()) {
      absl::StrAppend(&line, " (", error.kind(),
                      error.step().empty() ? "" : absl::StrCat(" in step ", error.step()), ")");
    }
    if (!error.reason().empty()) absl::StrAppend(&line, ": ", error.reason());
  }
  return TerminalSafe(line, false);
}

std::string StatusName(tempa::v1::BuildStatus status) {
  if (status == tempa::v1::BUILD_STATUS_UNSPECIFIED) return "UNKNOWN";
  std::string name = tempa::v1::BuildStatus_Name(status);
  return name.empty() ? absl::StrCat("STATUS_", static_cast<int>(status)) : name;
}

bool IsFinished(tempa::v1::BuildStatus status) {
  return status == tempa::v1::SUCCEEDED || status == tempa::v1::FAILED ||
         status == tempa::v1::CANCELLED || status == tempa::v1::SUPERSEDED;
}

std::string ShortCommit(absl::string_view commit) {
  if (commit.empty()) return "-";
  return std::string(commit.substr(0, 7));
}

std::string Age(int64_t unix_ms, absl::Time now) {
  if (unix_ms == 0) return "-";
  return ShortDuration(now - FromUnixMs(unix_ms));
}

std::string TerminalSafe(absl::string_view text, bool keep_tab) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && !(keep_tab && c == '\t')) || c == 0x7f) {
      out.push_back('^');
      out.push_back(c == 0x7f ? '?' : static_cast<char>(c + 0x40));
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out.append("^?");  // a C1 control (CSI and friends) in UTF-8
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace tempa::cli::farm
