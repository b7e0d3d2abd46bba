#include "worker/cli/farm/rpc_errors.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tempa::cli::farm {
namespace {

// gRPC's connection errors are long ("failed to connect to all addresses; last error: UNKNOWN:
// ipv4:127.0.0.1:7070: Failed to connect to remote host: Connection refused"); the cause is one
// phrase of it.
std::string ConnectionReason(const std::string& message) {
  std::string lower = absl::AsciiStrToLower(message);
  const std::pair<const char*, const char*> kReasons[] = {
      {"connection refused", "connection refused"},
      {"dns resolution failed", "cannot resolve the host name"},
      {"name or service not known", "cannot resolve the host name"},
      {"network is unreachable", "network is unreachable"},
      {"no route to host", "no route to host"},
      {"timed out", "connection timed out"},
      {"handshake", "TLS handshake failed"},
      {"ssl", "TLS handshake failed"},
      {"certificate", "TLS certificate rejected"},
      {"connection reset", "connection reset"},
      {"socket closed", "the connection was closed"},
      {"broken pipe", "the connection was closed"},
  };
  for (const auto& [needle, reason] : kReasons) {
    if (absl::StrContains(lower, needle)) return reason;
  }
  return message.empty() ? "unavailable" : message;
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return absl::StrCat("code ", static_cast<int>(code));
  }
}

std::string Detail(const grpc::Status& status) {
  return status.error_message().empty() ? "" : absl::StrCat(" (", status.error_message(), ")");
}

}  // namespace

std::string DescribeRpcError(const grpc::Status& status, const RpcSubject& subject,
                             const RpcConnection& connection) {
  const std::string& message = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: {
      std::string reason = ConnectionReason(message);
      if (absl::StrContains(reason, "TLS")) {
        return absl::StrCat(
            "cannot talk TLS to the coordinator at ", connection.address, " (", reason,
            "): check that --tls-ca holds the CA that signed its certificate and that the "
            "certificate names the host (else pass --tls-server-name NAME)");
      }
      std::string line =
          absl::StrCat("cannot reach the coordinator at ", connection.address, " (", reason,
                       "): start tempa-coordinator or pass --coordinator HOST:PORT");
      if (!connection.tls &&
          (reason == "the connection was closed" || reason == "connection reset")) {
        absl::StrAppend(&line, "; if it serves TLS, pass --tls-ca F");
      }
      return line;
    }
    case grpc::StatusCode::UNAUTHENTICATED:
      if (connection.token_source.empty()) {
        return "the coordinator wants a token: pass --token-file F or set TEMPA_TOKEN_FILE";
      }
      return absl::StrCat("the coordinator refused the token from ", connection.token_source,
                          Detail(status), ": check that it is a current token of this coordinator");
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat(
          "the token", connection.token_source.empty() ? "" : " from ", connection.token_source,
          " may not ", subject.action, Detail(status),
          ": use an admin token (--token-file F); read-only tokens may only list, show and "
          "follow");
    case grpc::StatusCode::NOT_FOUND:
      if (subject.kind == "app") {
        return absl::StrCat("no app named ", subject.name, "; see `tempa apps list`");
      }
      if (subject.kind == "build") {
        return absl::StrCat("no build ", subject.name, "; see `tempa builds list`");
      }
      return absl::StrCat("cannot ", subject.action, ": ", message);
    case grpc::StatusCode::ALREADY_EXISTS:
      if (subject.kind == "app") {
        return absl::StrCat("an app named ", subject.name,
                            " already exists: change it with `tempa apps update ", subject.name,
                            "` or pick another name");
      }
      return absl::StrCat("cannot ", subject.action, ": ", message);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("the coordinator at ", connection.address, " did not answer within ",
                          absl::FormatDuration(connection.timeout), " (", subject.action,
                          "): check that it is healthy, or pass --timeout DURATION to wait longer");
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::StrCat("the coordinator refused to ", subject.action, ": ", message);
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
      return absl::StrCat("cannot ", subject.action, ": ", message);
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::StrCat("the coordinator at ", connection.address, " cannot ", subject.action,
                          Detail(status),
                          ": it is older or newer than this tempa; run matching versions");
    default:
      return absl::StrCat("cannot ", subject.action, ": the coordinator answered ",
                          CodeName(status.error_code()), Detail(status));
  }
}

}  // namespace tempa::cli::farm
