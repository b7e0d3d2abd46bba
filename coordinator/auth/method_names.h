// The full gRPC method names ("/package.Service/Method") services pass to
// Authorizer::Authorize, one constant per RPC so a typo is a compile error rather than a
// PERMISSION_DENIED at run time. The policy test checks this list against the generated
// descriptors: a new RPC needs a constant here and a rule in MethodPolicy::Default().
#pragma once

namespace tempa::coordinator::auth::methods {

#define TEMPA_CONTROL_METHOD(name) \
  inline constexpr char k##name[] = "/tempa.v1.ControlService/" #name;
TEMPA_CONTROL_METHOD(CreateApp)
TEMPA_CONTROL_METHOD(GetApp)
TEMPA_CONTROL_METHOD(ListApps)
TEMPA_CONTROL_METHOD(UpdateApp)
TEMPA_CONTROL_METHOD(DeleteApp)
TEMPA_CONTROL_METHOD(TriggerBuild)
TEMPA_CONTROL_METHOD(GetBuild)
TEMPA_CONTROL_METHOD(ListBuilds)
TEMPA_CONTROL_METHOD(GetBuildLogs)
TEMPA_CONTROL_METHOD(WatchBuild)
TEMPA_CONTROL_METHOD(CancelBuild)
TEMPA_CONTROL_METHOD(ListWorkers)
TEMPA_CONTROL_METHOD(ListDeploys)
TEMPA_CONTROL_METHOD(RollbackApp)
#undef TEMPA_CONTROL_METHOD

#define TEMPA_WORKER_METHOD(name) \
  inline constexpr char k##name[] = "/tempa.v1.WorkerService/" #name;
TEMPA_WORKER_METHOD(RegisterWorker)
TEMPA_WORKER_METHOD(LeaseJob)
TEMPA_WORKER_METHOD(Heartbeat)
TEMPA_WORKER_METHOD(ReportProgress)
TEMPA_WORKER_METHOD(CompleteJob)
#undef TEMPA_WORKER_METHOD

inline constexpr char kFindLayer[] = "/tempa.v1.LayerCacheService/FindLayer";
inline constexpr char kPutLayer[] = "/tempa.v1.LayerCacheService/PutLayer";

// Services callable without a token, so `grpcurl -plaintext HOST:PORT list` and health probes
// work: every method whose name starts with one of these.
inline constexpr char kHealthService[] = "/grpc.health.v1.Health/";
inline constexpr char kReflectionV1Alpha[] = "/grpc.reflection.v1alpha.ServerReflection/";
inline constexpr char kReflectionV1[] = "/grpc.reflection.v1.ServerReflection/";

}  // namespace tempa::coordinator::auth::methods
