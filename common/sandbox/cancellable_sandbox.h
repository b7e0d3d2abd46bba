// CancellableSandbox: a Sandbox decorator for one build that hands the build's cancel token to
// every command run through it, so steps written without cancellation in mind (the buildpacks)
// are stopped with the build. A command started after the token was set does not start.
#pragma once

#include "common/cancel_token.h"
#include "common/sandbox/sandbox.h"

namespace tempa {

class CancellableSandbox : public Sandbox {
 public:
  // `inner` and `cancel` must outlive this object; a null `cancel` passes commands through.
  CancellableSandbox(Sandbox* inner, const CancelToken* cancel) : inner_(inner), cancel_(cancel) {}

  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) override {
    if (IsCancelled(cancel_)) {
      SandboxResult result;
      result.outcome = SandboxResult::Outcome::kCancelled;
      result.log_tail = "tempa: the build was cancelled";
      return result;
    }
    if (cancel_ == nullptr || command.cancel != nullptr) return inner_->Run(command);
    SandboxCommand with_token = command;
    with_token.cancel = cancel_;
    return inner_->Run(with_token);
  }

 private:
  Sandbox* inner_;
  const CancelToken* cancel_;
};

}  // namespace tempa
