#include "tests/e2e/soak_invariants.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tempa::testing {
namespace {

std::string Describe(const v1::Build& b) {
  return absl::StrCat(b.id(), " (", b.app(), "/", b.branch(), " seq ", b.sequence(), ", ",
                      v1::BuildStatus_Name(b.status()), ", delivery ", b.delivery_id(), ")");
}

}  // namespace

std::vector<std::string> SoakViolations(const SoakRecord& record) {
  std::vector<std::string> out;
  std::map<std::string, const v1::Build*> by_id;
  std::map<std::pair<std::string, std::string>, std::vector<const v1::Build*>> by_branch;
  std::map<std::pair<std::string, std::string>, int> per_delivery_app;
  for (const v1::Build& b : record.builds) {
    if (!by_id.emplace(b.id(), &b).second) out.push_back("build listed twice: " + Describe(b));
    by_branch[{b.app(), b.branch()}].push_back(&b);
    if (++per_delivery_app[{b.delivery_id(), b.app()}] == 2) {
      out.push_back(absl::StrCat("delivery ", b.delivery_id(), " made two builds of ", b.app()));
    }
    auto delivery = record.deliveries.find(b.delivery_id());
    if (delivery == record.deliveries.end()) {
      out.push_back("a build no delivery asked for: " + Describe(b));
    } else if (b.commit() != delivery->second.sha || b.branch() != delivery->second.branch ||
               delivery->second.apps.count(b.app()) == 0) {
      out.push_back(absl::StrCat("build ", Describe(b), " at ", b.commit(),
                                 " does not match its delivery's push ", delivery->second.sha,
                                 " to ", delivery->second.branch));
    }
    if (b.status() != v1::SUCCEEDED && b.status() != v1::SUPERSEDED) {
      out.push_back(absl::StrCat("build ended ", v1::BuildStatus_Name(b.status()), ": ",
                                 Describe(b), " ", b.error().kind(), ": ", b.error().reason()));
    }
    if (b.status() == v1::SUCCEEDED) {
      std::string expected =
          SoakImage(absl::StrCat(record.registry, "/", b.app()), b.id(), b.commit());
      auto sent = record.completions.find(b.id());
      if (sent == record.completions.end() ||
          std::find(sent->second.images.begin(), sent->second.images.end(), b.image()) ==
              sent->second.images.end()) {
        out.push_back("SUCCEEDED but no worker sent that result: " + Describe(b));
      }
      if (b.image() != expected) {
        out.push_back(absl::StrCat("SUCCEEDED ", Describe(b), " has image ", b.image(),
                                   ", not the one built for it: ", expected));
      }
    }
  }

  for (const auto& [delivery, builds] : record.acked) {
    const SoakDelivery& pushed = record.deliveries.at(delivery);
    std::set<std::string> apps;
    for (const auto& [app, id] : builds) {
      apps.insert(app);
      auto found = by_id.find(id);
      if (found == by_id.end()) {
        out.push_back(
            absl::StrCat("acknowledged build ", id, " of delivery ", delivery, " was lost"));
      } else if (found->second->delivery_id() != delivery || found->second->app() != app) {
        out.push_back(absl::StrCat("delivery ", delivery, " was answered with ", app, "/", id,
                                   " but that is ", Describe(*found->second)));
      }
    }
    if (apps != pushed.apps) {
      out.push_back(absl::StrCat("delivery ", delivery, " to ", pushed.branch,
                                 " was answered with ", apps.size(), " builds for ",
                                 pushed.apps.size(), " apps"));
    }
  }

  for (auto& [key, builds] : by_branch) {
    std::sort(builds.begin(), builds.end(),
              [](const v1::Build* a, const v1::Build* b) { return a->sequence() < b->sequence(); });
    for (size_t i = 0; i < builds.size(); ++i) {
      const v1::Build& b = *builds[i];
      bool newest = i + 1 == builds.size();
      if (newest && b.status() != v1::SUCCEEDED) {
        out.push_back("the newest push did not succeed: " + Describe(b));
      }
      if (!newest && b.status() == v1::SUCCEEDED &&
          b.finished_unix_ms() > builds[i + 1]->queued_unix_ms()) {
        out.push_back(absl::StrCat("older ", Describe(b), " SUCCEEDED at ", b.finished_unix_ms(),
                                   ", after newer ", Describe(*builds[i + 1]), " was accepted at ",
                                   builds[i + 1]->queued_unix_ms()));
      }
      if (b.status() == v1::SUPERSEDED) {
        auto by = by_id.find(b.superseded_by());
        if (by == by_id.end() || by->second->sequence() <= b.sequence() ||
            by->second->app() != b.app() || by->second->branch() != b.branch()) {
          out.push_back(absl::StrCat(Describe(b), " is superseded by \"", b.superseded_by(),
                                     "\", not a newer build of its app and branch"));
        }
      }
    }
  }

  for (const auto& [id, entry] : record.completions) {
    if (entry.accepted > 1) {
      out.push_back(absl::StrCat("build ", id, " had ", entry.accepted,
                                 " results accepted (built twice to completion)"));
    }
  }
  return out;
}

}  // namespace tempa::testing
