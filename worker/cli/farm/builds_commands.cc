// tempa builds list | show | logs | cancel, tempa trigger and tempa workers list.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "worker/cli/farm/farm_format.h"
#include "worker/cli/farm/farm_session.h"

namespace tempa::cli::farm {
namespace {

using tempa::v1::Build;

// A followed build's stream may drop (the coordinator restarting); it is picked up again from
// the next line this many times before the command gives up.
constexpr int kMaxReconnects = 30;

// Parses `args` for `command`, which takes up to `max_positionals` positional arguments (the
// first named `what` in messages). Returns the parsed flags, or nullopt after printing the usage
// error (exit 2).
std::optional<ParsedFlags> ParseExact(Session& session, const std::string& command,
                                      const std::vector<std::string>& args,
                                      const std::vector<FlagSpec>& allowed, size_t max_positionals,
                                      const std::string& what, int& exit_code) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, allowed);
  if (!flags.ok()) {
    exit_code = session.Usage(command, std::string(flags.status().message()));
    return std::nullopt;
  }
  if (flags->positionals.size() > max_positionals) {
    exit_code = session.Usage(
        command, absl::StrCat("unexpected \"", flags->positionals[max_positionals], "\""));
    return std::nullopt;
  }
  if (flags->positionals.size() < max_positionals && !flags->Has("--app")) {
    exit_code = session.Usage(command, absl::StrCat("which ", what, "? name it"));
    return std::nullopt;
  }
  return std::move(*flags);
}

// The build `command` is about: the ID given, or with --app NAME that app's newest build.
// Returns nullopt after printing the problem; `exit_code` says how to exit.
std::optional<std::string> ResolveBuildId(Session& session, const std::string& command,
                                          const ParsedFlags& flags, int& exit_code) {
  std::optional<std::string> app = flags.Last("--app");
  if (!app) return flags.positionals[0];
  if (!flags.positionals.empty()) {
    exit_code = session.Usage(command, "name a build ID or pass --app NAME, not both");
    return std::nullopt;
  }
  auto* stub = session.Connect();
  exit_code = 1;
  if (stub == nullptr) return std::nullopt;
  tempa::v1::ListBuildsRequest request;
  request.set_app(*app);
  request.set_limit(1);
  tempa::v1::ListBuildsResponse response;
  auto context = session.Context();
  grpc::Status status = stub->ListBuilds(context.get(), request, &response);
  if (!status.ok()) {
    session.Fail(status, {absl::StrCat("find the newest build of ", *app), "app", *app});
    return std::nullopt;
  }
  if (response.builds().empty()) {
    session.Fail(absl::NotFoundError(
        absl::StrCat("app ", *app, " has no builds yet; start one: tempa trigger ", *app)));
    return std::nullopt;
  }
  return response.builds(0).id();
}

RpcSubject BuildSubject(const std::string& verb, const std::string& id) {
  return {absl::StrCat(verb, " build ", id), "build", id};
}

void PrintBuild(Session& session, const Build& build, bool json) {
  if (json) {
    session.out() << BuildJson(build).dump(2) << "\n";
  } else {
    session.out() << BuildDetails(build, session.Now());
  }
}

// How a followed build ends: 0 when it SUCCEEDED, else 1; its summary line on stderr.
int FinishFollow(Session& session, const Build& build) {
  session.out().flush();
  session.err() << "tempa: " << BuildSummary(build) << "\n";
  return build.status() == tempa::v1::SUCCEEDED ? 0 : 1;
}

}  // namespace

int FollowBuild(Session& session, const std::string& id, int64_t from_line) {
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  int64_t next_line = from_line;
  bool received = false;
  tempa::v1::BuildStatus last_status = tempa::v1::BUILD_STATUS_UNSPECIFIED;
  for (int reconnects = 0;; ++reconnects) {
    tempa::v1::WatchBuildRequest request;
    request.set_id(id);
    request.set_from_line(next_line);
    auto context = session.Context(/*with_deadline=*/false);
    auto reader = stub->WatchBuild(context.get(), request);
    tempa::v1::BuildEvent event;
    std::optional<Build> finished;
    while (reader->Read(&event)) {
      received = true;
      if (event.has_log()) {
        if (event.log().number() < next_line) continue;  // seen before a reconnect
        session.out() << TerminalSafe(event.log().text()) << "\n" << std::flush;
        next_line = event.log().number() + 1;
      } else if (event.has_build() && IsFinished(event.build().status())) {
        // Read on: a build that had finished before the watch began comes first, its stored
        // lines after it; the coordinator ends the stream once it has sent everything.
        finished = event.build();
      } else if (event.has_build() && event.build().status() != last_status) {
        // Where a build stands while no line comes: waiting for a worker, or running on one.
        last_status = event.build().status();
        session.err() << "tempa: build " << id << " is " << StatusName(last_status)
                      << (last_status == tempa::v1::QUEUED ? " (waiting for a worker)" : "")
                      << (event.build().worker_id().empty()
                              ? ""
                              : absl::StrCat(" on ", event.build().worker_id()))
                      << "\n";
      }
    }
    grpc::Status status = reader->Finish();
    if (finished) return FinishFollow(session, *finished);
    if (status.ok() && !received) {
      session.err() << "tempa: the coordinator ended the stream of build " << id
                    << " without a word; see where it stands: tempa builds show " << id << "\n";
      return 1;
    }
    bool retryable = status.ok() || status.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (!received || !retryable) return session.Fail(status, BuildSubject("follow", id));
    if (reconnects >= kMaxReconnects) {
      session.err() << "tempa: the coordinator kept closing the stream of build " << id
                    << " before it finished; see where it stands: tempa builds show " << id << "\n";
      return 1;
    }
    session.err() << "tempa: lost the stream of build " << id
                  << (status.ok() ? std::string() : absl::StrCat(" (", status.error_message(), ")"))
                  << "; reconnecting\n";
    session.env().sleep(absl::Seconds(1));
  }
}

int BuildsList(Session& session, const std::vector<std::string>& args) {
  int exit_code = 0;
  auto flags =
      ParseExact(session, "builds list", args,
                 {{"--app", true}, {"--limit", true}, {"--json", false}}, 0, "", exit_code);
  if (!flags) return exit_code;
  tempa::v1::ListBuildsRequest request;
  request.set_app(flags->Last("--app").value_or(""));
  if (auto limit = flags->Last("--limit")) {
    absl::StatusOr<int> n = ParseNonNegativeInt("--limit", *limit);
    if (!n.ok()) return session.Usage("builds list", std::string(n.status().message()));
    request.set_limit(*n);
  }
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::ListBuildsResponse response;
  auto context = session.Context();
  grpc::Status status = stub->ListBuilds(context.get(), request, &response);
  if (!status.ok()) {
    if (request.app().empty()) return session.Fail(status, {"list builds", "", ""});
    return session.Fail(status,
                        {absl::StrCat("list the builds of ", request.app()), "app", request.app()});
  }
  if (flags->Has("--json")) {
    session.out() << BuildsJson(response).dump(2) << "\n";
  } else {
    session.out() << BuildsTable(response, session.Now());
  }
  return 0;
}

int BuildsShow(Session& session, const std::vector<std::string>& args) {
  int exit_code = 0;
  auto flags = ParseExact(session, "builds show", args, {{"--json", false}, {"--app", true}}, 1,
                          "build", exit_code);
  if (!flags) return exit_code;
  std::optional<std::string> resolved = ResolveBuildId(session, "builds show", *flags, exit_code);
  if (!resolved) return exit_code;
  const std::string& id = *resolved;
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::GetBuildRequest request;
  request.set_id(id);
  Build build;
  auto context = session.Context();
  grpc::Status status = stub->GetBuild(context.get(), request, &build);
  if (!status.ok()) return session.Fail(status, BuildSubject("show", id));
  PrintBuild(session, build, flags->Has("--json"));
  return 0;
}

int BuildsLogs(Session& session, const std::vector<std::string>& args) {
  int exit_code = 0;
  auto flags =
      ParseExact(session, "builds logs", args,
                 {{"--follow", false}, {"--tail", true}, {"--app", true}}, 1, "build", exit_code);
  if (!flags) return exit_code;
  std::optional<std::string> resolved = ResolveBuildId(session, "builds logs", *flags, exit_code);
  if (!resolved) return exit_code;
  const std::string& id = *resolved;
  std::optional<int> tail;
  if (auto text = flags->Last("--tail")) {
    absl::StatusOr<int> n = ParseNonNegativeInt("--tail", *text);
    if (!n.ok()) return session.Usage("builds logs", std::string(n.status().message()));
    tail = *n;
  }
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  int64_t from_line = 0;
  if (tail) {  // the last N lines: where they start needs the build's line count
    tempa::v1::GetBuildRequest request;
    request.set_id(id);
    Build build;
    auto context = session.Context();
    grpc::Status status = stub->GetBuild(context.get(), request, &build);
    if (!status.ok()) return session.Fail(status, BuildSubject("read the logs of", id));
    from_line = std::max<int64_t>(0, build.log_lines() - *tail);
  }
  if (flags->Has("--follow")) return FollowBuild(session, id, from_line);

  tempa::v1::GetBuildLogsRequest request;
  request.set_id(id);
  request.set_from_line(from_line);
  tempa::v1::GetBuildLogsResponse response;
  auto context = session.Context();
  grpc::Status status = stub->GetBuildLogs(context.get(), request, &response);
  if (!status.ok()) return session.Fail(status, BuildSubject("read the logs of", id));
  for (const tempa::v1::LogLine& line : response.lines()) {
    session.out() << TerminalSafe(line.text()) << "\n";
  }
  return 0;
}

int BuildsCancel(Session& session, const std::vector<std::string>& args) {
  int exit_code = 0;
  auto flags =
      ParseExact(session, "builds cancel", args, {{"--json", false}}, 1, "build", exit_code);
  if (!flags) return exit_code;
  const std::string& id = flags->positionals[0];
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::CancelBuildRequest request;
  request.set_id(id);
  Build build;
  auto context = session.Context();
  grpc::Status status = stub->CancelBuild(context.get(), request, &build);
  if (!status.ok()) return session.Fail(status, BuildSubject("cancel", id));
  if (flags->Has("--json")) {
    PrintBuild(session, build, true);
  } else if (build.status() == tempa::v1::CANCELLED) {
    session.out() << "cancelled build " << id << "\n";
  } else if (!IsFinished(build.status())) {
    session.out() << "cancelling build " << id << " (" << StatusName(build.status())
                  << "): its worker stops it within a second; watch: tempa builds logs " << id
                  << " --follow\n";
  } else {
    session.out() << "build " << id << " had already finished (" << StatusName(build.status())
                  << "); nothing to cancel\n";
  }
  return 0;
}

int Trigger(Session& session, const std::vector<std::string>& args) {
  int exit_code = 0;
  auto flags =
      ParseExact(session, "trigger", args,
                 {{"--commit", true}, {"--branch", true}, {"--follow", false}, {"--json", false}},
                 1, "app", exit_code);
  if (!flags) return exit_code;
  if (flags->Has("--follow") && flags->Has("--json")) {
    return session.Usage("trigger", "--follow streams the log; it does not go with --json");
  }
  const std::string& app = flags->positionals[0];
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::TriggerBuildRequest request;
  request.set_app(app);
  request.set_commit(flags->Last("--commit").value_or(""));
  request.set_branch(flags->Last("--branch").value_or(""));
  Build build;
  auto context = session.Context();
  grpc::Status status = stub->TriggerBuild(context.get(), request, &build);
  if (!status.ok()) {
    return session.Fail(status, {absl::StrCat("trigger a build of ", app), "app", app});
  }
  if (flags->Has("--json")) {
    PrintBuild(session, build, true);
    return 0;
  }
  std::string line =
      absl::StrCat("queued build ", build.id(), " of ", build.app(), " (branch ",
                   build.branch().empty() ? "default" : build.branch(), ", commit ",
                   build.commit().empty() ? "head" : ShortCommit(build.commit()), ")");
  if (flags->Has("--follow")) {
    session.err() << "tempa: " << line << "\n";
    return FollowBuild(session, build.id(), 0);
  }
  session.out() << line << "\n  follow it: tempa builds logs " << build.id() << " --follow\n";
  return 0;
}

int WorkersList(Session& session, const std::vector<std::string>& args) {
  int exit_code = 0;
  auto flags = ParseExact(session, "workers list", args, {{"--json", false}}, 0, "", exit_code);
  if (!flags) return exit_code;
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::ListWorkersResponse response;
  auto context = session.Context();
  grpc::Status status =
      stub->ListWorkers(context.get(), tempa::v1::ListWorkersRequest(), &response);
  if (!status.ok()) return session.Fail(status, {"list workers", "", ""});
  if (flags->Has("--json")) {
    session.out() << MessageJson(response).dump(2) << "\n";
  } else {
    session.out() << WorkersTable(response, session.Now());
  }
  return 0;
}

}  // namespace tempa::cli::farm
