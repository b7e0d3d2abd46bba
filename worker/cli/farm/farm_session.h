// What every farm command shares: the parsed global flags, the connection (made when the command
// first needs it, after its own flags parsed), the output streams and the error reporting.
// Internal to worker/cli/farm.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/client_context.h"
#include "tempa/v1/control.grpc.pb.h"
#include "worker/cli/farm/control_channel.h"
#include "worker/cli/farm/farm_args.h"
#include "worker/cli/farm/farm_command.h"
#include "worker/cli/farm/rpc_errors.h"

namespace tempa::cli::farm {

class Session {
 public:
  Session(GlobalFlags flags, std::ostream& out, std::ostream& err, const FarmEnvironment& env)
      : flags_(std::move(flags)), out_(out), err_(err), env_(env) {}

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const FarmEnvironment& env() const { return env_; }
  absl::Time Now() const { return env_.now(); }

  // Resolves the address and token (flags, then environment) and makes the channel. On failure
  // (an unreadable token file) prints the problem and returns nullptr; the command exits 1.
  tempa::v1::ControlService::Stub* Connect();
  // A context with the token and, unless `with_deadline` is false, the call deadline.
  std::unique_ptr<grpc::ClientContext> Context(bool with_deadline = true) const;

  // Prints the failed call's one-line description; returns 1.
  int Fail(const grpc::Status& status, const RpcSubject& subject);
  // Prints a local problem ("read --webhook-secret-file s.txt: ..."); returns 1.
  int Fail(const absl::Status& status);
  // Prints the usage problem and the usage of `command`; returns 2.
  int Usage(const std::string& command, const std::string& problem);

  // Reads a secret from `path` ("-": standard input), trimmed of surrounding whitespace unless
  // `verbatim`. Empty or unreadable files are errors naming `flag`.
  absl::StatusOr<std::string> ReadSecret(const std::string& flag, const std::string& path,
                                         bool verbatim = false);

 private:
  GlobalFlags flags_;
  std::ostream& out_;
  std::ostream& err_;
  const FarmEnvironment& env_;
  ConnectionOptions connection_;
  RpcConnection rpc_;
  std::unique_ptr<tempa::v1::ControlService::Stub> stub_;
};

// The commands; `args` are what follows "apps create" etc. Each parses its flags, connects and
// returns the exit code.
int AppsCreate(Session& session, const std::vector<std::string>& args);
int AppsList(Session& session, const std::vector<std::string>& args);
int AppsShow(Session& session, const std::vector<std::string>& args);
int AppsUpdate(Session& session, const std::vector<std::string>& args);
int AppsDelete(Session& session, const std::vector<std::string>& args);
int BuildsList(Session& session, const std::vector<std::string>& args);
int BuildsShow(Session& session, const std::vector<std::string>& args);
int BuildsLogs(Session& session, const std::vector<std::string>& args);
int BuildsCancel(Session& session, const std::vector<std::string>& args);
int Trigger(Session& session, const std::vector<std::string>& args);
int WorkersList(Session& session, const std::vector<std::string>& args);
int AppsSet(Session& session, const std::vector<std::string>& args);
int DeploysList(Session& session, const std::vector<std::string>& args);
int DeploysRollback(Session& session, const std::vector<std::string>& args);

// Streams build `id`'s log lines from `from_line` to `out` as they arrive and returns when it
// finishes: 0 when it SUCCEEDED, 1 otherwise (with its summary on `err`).
int FollowBuild(Session& session, const std::string& id, int64_t from_line);

}  // namespace tempa::cli::farm
