// Flag parsing for the farm commands of `tempa` (apps, builds, trigger, workers): the global
// connection flags, a small per-subcommand flag walker and the usage text of each subcommand.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tempa::cli::farm {

// Where and how to reach the coordinator, from the global flags and the environment.
struct GlobalFlags {
  std::optional<std::string> coordinator;      // --coordinator HOST:PORT
  std::optional<std::string> token_file;       // --token-file F
  std::optional<std::string> tls_ca;           // --tls-ca F (PEM roots; switches to TLS)
  std::optional<std::string> tls_server_name;  // --tls-server-name NAME (certificate name check)
  absl::Duration timeout = absl::Seconds(30);  // --timeout DURATION: deadline of each call
};

// One flag a subcommand accepts.
struct FlagSpec {
  std::string name;  // "--json"
  bool takes_value = false;
};

// The flags and positional arguments of one subcommand, as given.
struct ParsedFlags {
  std::vector<std::string> positionals;
  std::map<std::string, std::vector<std::string>> values;  // flag → every value, in order

  bool Has(const std::string& flag) const { return values.count(flag) > 0; }
  // The last value of `flag` (flags given twice: the last wins), or nullopt.
  std::optional<std::string> Last(const std::string& flag) const;
  const std::vector<std::string>& All(const std::string& flag) const;
};

// Removes the global flags from `args` (they may stand anywhere: before the subcommand, as the
// contract shows, or after it, as users of other CLIs type them) and returns them.
absl::StatusOr<GlobalFlags> ExtractGlobalFlags(std::vector<std::string>& args);

// Parses `args` ("--flag value", "--flag=value", positionals; "--" ends the flags) against
// `allowed`. An unknown flag or a missing value is an InvalidArgument naming it.
absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       const std::vector<FlagSpec>& allowed);

// "30" (seconds) or an absl duration ("90s", "5m", "1h").
absl::StatusOr<absl::Duration> ParseSeconds(absl::string_view flag, absl::string_view text);
absl::StatusOr<int> ParseNonNegativeInt(absl::string_view flag, absl::string_view text);
// The value of --start: a command, or "" for the repository's own again; blank is refused.
absl::StatusOr<std::string> ParseStartCommand(absl::string_view text);

// The usage of `command` ("apps create", "builds", "" for the whole farm CLI), with the global
// flags explained when `with_global_flags` (--help) and only pointed to otherwise (usage errors).
std::string FarmUsage(absl::string_view command, bool with_global_flags = true);

}  // namespace tempa::cli::farm
