// Loopback ports for containers: a port in the operator's range that nothing listens on (checked
// by binding 127.0.0.1:PORT), and never handed out twice while a container holds it. Ports are
// tried round-robin so that a port just given back is not the next one handed out (a client
// could still be talking to the old version there).
#pragma once

#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tempa::deploy {

class PortAllocator {
 public:
  PortAllocator(int first, int last);

  // A free port, held until Release. ResourceExhausted when every port in the range is held or
  // bound by someone else.
  absl::StatusOr<int> Allocate();
  // Marks `port` held (the port of a container adopted after a restart, which is bound by that
  // container). False when it was held already.
  bool Hold(int port);
  // Holds `port` when it is in no one's hands: not held and bindable. For restarting a
  // container on the port it had.
  bool Claim(int port);
  void Release(int port);
  bool IsHeld(int port) const;

 private:
  static bool Bindable(int port);

  const int first_;
  const int last_;
  mutable absl::Mutex mu_;
  std::set<int> held_ ABSL_GUARDED_BY(mu_);
  int next_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::deploy
