#include "coordinator/core/build_events.h"

namespace tempa::coordinator {

std::vector<v1::BuildEvent> BuildSubscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || fell_behind_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  std::vector<v1::BuildEvent> events(std::make_move_iterator(queue_.begin()),
                                     std::make_move_iterator(queue_.end()));
  queue_.clear();
  return events;
}

bool BuildSubscription::fell_behind() {
  absl::MutexLock lock(&mu_);
  return fell_behind_;
}

void BuildSubscription::Push(const v1::BuildEvent& event) {
  absl::MutexLock lock(&mu_);
  if (fell_behind_) return;
  if (queue_.size() >= max_queued_) {
    fell_behind_ = true;
    queue_.clear();
    return;
  }
  queue_.push_back(event);
}

std::shared_ptr<BuildSubscription> BuildEvents::Subscribe(const std::string& build_id,
                                                          size_t max_queued) {
  auto subscription = std::make_shared<BuildSubscription>(max_queued);
  absl::MutexLock lock(&mu_);
  subscribers_[build_id].push_back(subscription);
  return subscription;
}

void BuildEvents::Publish(const std::string& build_id, const v1::BuildEvent& event) {
  std::vector<std::shared_ptr<BuildSubscription>> live;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscribers_.find(build_id);
    if (it == subscribers_.end()) return;
    std::vector<std::weak_ptr<BuildSubscription>>& subs = it->second;
    for (size_t i = 0; i < subs.size();) {
      if (std::shared_ptr<BuildSubscription> s = subs[i].lock()) {
        live.push_back(std::move(s));
        ++i;
      } else {
        subs[i] = subs.back();
        subs.pop_back();
      }
    }
    if (subs.empty()) subscribers_.erase(it);
  }
  for (const std::shared_ptr<BuildSubscription>& s : live) s->Push(event);
}

}  // namespace tempa::coordinator
