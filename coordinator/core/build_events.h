// Fan-out of a build's durable changes and log lines to whoever watches it (WatchBuild streams,
// `tempa builds logs --follow`). Publishing never blocks on a slow watcher: each subscription
// queues up to a bound and, past it, is marked as having fallen behind (the stream then ends
// and the client resumes from the stored log).
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tempa/v1/control.pb.h"

namespace tempa::coordinator {

class BuildSubscription {
 public:
  explicit BuildSubscription(size_t max_queued) : max_queued_(max_queued) {}
  // Waits up to `timeout` for events; returns those queued (empty on timeout).
  std::vector<v1::BuildEvent> Next(absl::Duration timeout);
  // True once the watcher missed events because it read too slowly.
  bool fell_behind();

 private:
  friend class BuildEvents;
  void Push(const v1::BuildEvent& event);

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<v1::BuildEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool fell_behind_ ABSL_GUARDED_BY(mu_) = false;
};

class BuildEvents {
 public:
  std::shared_ptr<BuildSubscription> Subscribe(const std::string& build_id,
                                               size_t max_queued = 10000);
  // Delivers to every live subscription of the build; drops subscriptions nobody holds.
  void Publish(const std::string& build_id, const v1::BuildEvent& event);

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::weak_ptr<BuildSubscription>>> subscribers_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::coordinator
