// The authorization metadata of every call comes from the network, and the token file from the
// operator. Input: token file contents, "\n%%\n", an authorization value. Parsing must not
// crash; every token of an accepted file authenticates as its own line's caller; an error never
// quotes a token of the file (beyond the method and caller names it gives).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/auth/method_names.h"
#include "coordinator/auth/token_file.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using tempa::coordinator::auth::Authorizer;
using tempa::coordinator::auth::TokenEntry;

std::multimap<grpc::string_ref, grpc::string_ref> Header(const std::string& value) {
  std::multimap<grpc::string_ref, grpc::string_ref> metadata;
  metadata.emplace("authorization", grpc::string_ref(value.data(), value.size()));
  return metadata;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = tempa::fuzz::SplitParts(data, size, 2);
  absl::string_view file =
      parts.empty() ? absl::string_view() : absl::string_view(parts[0].data(), parts[0].size());
  std::string header = parts.size() > 1 ? std::string(parts[1]) : std::string();

  auto entries = tempa::coordinator::auth::ParseTokenFile(file, "tokens");
  if (!entries.ok()) {
    // No line of the file that looks like `ROLE TOKEN` may have its token quoted.
    for (absl::string_view line : absl::StrSplit(file, '\n')) {
      std::vector<absl::string_view> fields =
          absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
      if (fields.size() >= 2 && fields[1].size() >= 16) {
        tempa::fuzz::Check(!absl::StrContains(entries.status().message(), fields[1]),
                           "a token file error quotes a token");
      }
    }
    return 0;
  }
  auto authorizer = Authorizer::FromTokens(*entries);
  tempa::fuzz::Check(authorizer.ok(), "an accepted token file makes no authorizer");
  for (const TokenEntry& entry : *entries) {
    std::string value = absl::StrCat("Bearer ", entry.token);
    auto caller = authorizer->AuthenticateMetadata(Header(value));
    tempa::fuzz::Check(caller.ok() && caller->role == entry.role,
                       "a listed token does not authenticate as its line");
  }
  auto status =
      authorizer->AuthorizeMetadata(Header(header), tempa::coordinator::auth::methods::kCreateApp);
  if (!status.ok()) {
    // The message names the method and the caller's NAME: a token the file happens to make a
    // substring of those is not quoted.
    std::string message(status.message());
    message = absl::StrReplaceAll(message, {{tempa::coordinator::auth::methods::kCreateApp, ""}});
    for (const TokenEntry& entry : *entries) {
      if (!entry.name.empty()) message = absl::StrReplaceAll(message, {{entry.name, ""}});
    }
    for (const TokenEntry& entry : *entries) {
      tempa::fuzz::Check(!absl::StrContains(message, entry.token),
                         "an authorization error quotes a token");
    }
  }
  return 0;
}
