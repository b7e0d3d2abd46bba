#include "worker/cli/detect_command.h"

#include <ostream>

#include "absl/strings/str_join.h"
#include "buildpacks/detector.h"
#include "nlohmann/json.hpp"
#include "worker/app_source.h"
#include "worker/cli/failure_report.h"

namespace tempa::cli {
namespace {

using nlohmann::json;

json PlanJson(const std::string& source_dir, const worker::AppPlan& planned) {
  const buildpacks::BuildPlan& plan = planned.plan;
  const worker::ResolvedApp& app = planned.app;
  json build_env = json::array();
  // Names only: values may be the operator's secrets.
  for (const auto& [name, value] : app.build_env) build_env.push_back(name);
  return json{{"language", plan.language},
              {"toolchain", plan.toolchain},
              {"app", plan.app_name},
              {"main_package", plan.main_package},
              {"vendored", plan.vendored},
              {"port", plan.port},
              {"start_command", plan.start_command},
              {"start_source", plan.start_source},
              {"details", plan.details},
              {"source_dir", source_dir},
              {"app_dir", app.app_dir},
              {"subdirectory", app.subdirectory},
              {"build_env", build_env},
              {"notes", app.notes},
              {"reasons", plan.reasons}};
}

void PrintPlan(const worker::AppPlan& planned, std::ostream& out) {
  const buildpacks::BuildPlan& plan = planned.plan;
  const worker::ResolvedApp& app = planned.app;
  out << "language:  " << plan.language << " (" << plan.toolchain << ")\n"
      << "app:       " << plan.app_name << "\n";
  if (!app.subdirectory.empty()) out << "directory: " << app.subdirectory << "\n";
  if (!plan.main_package.empty()) out << "main:      " << plan.main_package << "\n";
  if (!plan.start_command.empty()) {
    out << "start:     " << absl::StrJoin(plan.start_command, " ");
    if (!plan.start_source.empty()) out << " (from " << plan.start_source << ")";
    out << "\n";
  }
  out << "port:      " << plan.port << "\n";
  if (!app.notes.empty()) out << "config:    " << absl::StrJoin(app.notes, "; ") << "\n";
  out << "why:\n";
  for (const std::string& reason : plan.reasons) out << "  - " << reason << "\n";
}

}  // namespace

int RunDetect(const DetectArgs& args, std::ostream& out, std::ostream& err) {
  buildpacks::Detector detector = buildpacks::Detector::WithDefaultBuildpacks();
  buildpacks::DetectOptions flags;
  flags.main_package = args.go_main;
  flags.start = args.start;
  if (!args.start.empty()) flags.start_source = "--start";
  std::string source_dir = AbsoluteSourceDir(args.source_dir);
  absl::StatusOr<worker::AppPlan> planned =
      worker::PlanApp(source_dir, flags, args.build_env, detector);
  if (!planned.ok()) return ReportFailure("detect", planned.status(), args.json, out, err);
  if (args.json) {
    out << PlanJson(source_dir, *planned)
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  } else {
    PrintPlan(*planned, out);
  }
  return 0;
}

}  // namespace tempa::cli
