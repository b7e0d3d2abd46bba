// What the farm soak test checks once the chaos is over: the records it kept (deliveries posted,
// what the coordinator acknowledged, every result workers sent) against the builds the
// coordinator holds. Pure logic, so each rule is stated once and read in one place.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tempa/v1/farm.pb.h"
#include "tests/e2e/soak_worker.h"

namespace tempa::testing {

struct SoakDelivery {
  std::string repo, branch, sha;
  std::set<std::string> apps;  // the apps that follow its branch
};

struct SoakRecord {
  std::string registry;                            // HOST:PORT; images are REGISTRY/APP@sha256:...
  std::map<std::string, SoakDelivery> deliveries;  // every delivery posted, by id
  // The builds the coordinator answered with (2xx), by delivery id then app.
  std::map<std::string, std::map<std::string, std::string>> acked;
  std::vector<v1::Build> builds;  // every build the coordinator holds, after the drain
  std::map<std::string, CompletionLedger::Entry> completions;  // by build id
};

// Every broken invariant, one sentence each; empty when the farm kept its promise:
// - every acknowledged delivery's builds exist, carry its delivery id, app and commit, and an
//   acknowledgement names exactly the apps that follow the pushed branch;
// - no delivery (acknowledged or not) made two builds for one app, and no build exists that
//   no delivery asked for;
// - every build is finished: SUCCEEDED or SUPERSEDED (nobody cancels; attempts are unbounded);
// - per app and branch the newest build SUCCEEDED; an older one either SUCCEEDED before the
//   next newer push was accepted or is SUPERSEDED by a newer build of the same app and branch;
// - a SUCCEEDED build's image is the one a worker made for that very build and commit, and a
//   worker did send that result;
// - the coordinator accepted at most one final result per build.
std::vector<std::string> SoakViolations(const SoakRecord& record);

}  // namespace tempa::testing
