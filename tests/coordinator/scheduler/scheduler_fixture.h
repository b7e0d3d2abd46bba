// A scheduler under test with a scripted clock and a durable store fed from its changes, the
// way the coordinator core persists them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "coordinator/scheduler/scheduler.h"
#include "gtest/gtest.h"

namespace tempa::coordinator {

class SchedulerFixture : public ::testing::Test {
 protected:
  SchedulerFixture() : scheduler_(Options()) {}

  static SchedulerOptions Options() {
    SchedulerOptions options;
    options.lease_ttl = absl::Seconds(30);
    options.max_attempts = 3;
    options.default_app_concurrency = 2;
    return options;
  }

  static v1::Build NewBuild(const std::string& app, const std::string& branch, uint64_t seq) {
    v1::Build build;
    build.set_id(absl::StrCat("b-", seq));
    build.set_app(app);
    build.set_branch(branch);
    build.set_sequence(seq);
    build.set_status(v1::QUEUED);
    build.set_trigger(v1::WEBHOOK);
    return build;
  }

  void Persist(const BuildChanges& changes) {
    for (const v1::Build& b : changes) store_[b.id()] = b;
  }
  BuildChanges Submit(const std::string& app, const std::string& branch, uint64_t seq) {
    BuildChanges changes = scheduler_.Submit(NewBuild(app, branch, seq), now_);
    Persist(changes);
    return changes;
  }
  std::vector<Assignment> Dispatch(const std::vector<std::string>& waiting) {
    BuildChanges changes;
    std::vector<Assignment> out = scheduler_.Dispatch(waiting, now_, &changes);
    Persist(changes);
    return out;
  }
  BuildChanges Expire() {
    BuildChanges changes = scheduler_.ExpireLeases(now_);
    Persist(changes);
    return changes;
  }
  bool Complete(const Assignment& a, const v1::BuildResult& result) {
    BuildChanges changes;
    bool ok = scheduler_.Complete(a.build.id(), a.build.lease_id(), result, now_, &changes);
    Persist(changes);
    return ok;
  }
  static v1::BuildResult Succeeded(const std::string& image = "reg:5000/app@sha256:ab") {
    v1::BuildResult result;
    result.set_succeeded(true);
    result.set_image(image);
    return result;
  }
  static v1::BuildResult Cancelled() {
    v1::BuildResult result;
    result.set_cancelled(true);
    return result;
  }
  // What a restarted coordinator reads back: the unfinished records and the apps.
  void RestartFromStore() {
    std::vector<v1::Build> unfinished;
    for (const auto& [id, b] : store_) {
      if (b.status() == v1::QUEUED || b.status() == v1::RUNNING) unfinished.push_back(b);
    }
    scheduler_ = Scheduler(Options());
    scheduler_.Restore(unfinished, apps_, now_);
  }
  v1::BuildStatus StatusOf(const std::string& id) { return store_.at(id).status(); }

  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  Scheduler scheduler_;
  std::map<std::string, v1::Build> store_;
  std::map<std::string, v1::App> apps_;
};

}  // namespace tempa::coordinator
