#include "worker/cli/farm/control_channel.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace tempa::cli::farm {

std::shared_ptr<grpc::Channel> MakeControlChannel(const ConnectionOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // a long build's logs may exceed the 4 MiB default
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_pem) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *options.tls_ca_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(options.address, credentials, args);
}

std::unique_ptr<grpc::ClientContext> MakeCallContext(const ConnectionOptions& options,
                                                     bool with_deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!options.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
  }
  if (with_deadline) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  }
  return context;
}

}  // namespace tempa::cli::farm
