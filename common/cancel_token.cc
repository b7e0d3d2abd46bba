#include "common/cancel_token.h"

namespace tempa {

void CancelToken::Cancel() {
  absl::MutexLock lock(&mu_);
  set_ = true;
  cancelled_.store(true, std::memory_order_release);
}

bool CancelToken::WaitFor(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&set_), timeout);
  return set_;
}

}  // namespace tempa
