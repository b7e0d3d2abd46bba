// A directory for one test, removed with its contents afterwards; and a build record to store.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "coordinator/state/state_store.h"

namespace tempa::coordinator::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tempa-state-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) abort();
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline v1::Build MakeBuild(uint64_t sequence, const std::string& app,
                           v1::BuildStatus status = v1::QUEUED) {
  v1::Build build;
  build.set_id(BuildIdFor(sequence));
  build.set_sequence(sequence);
  build.set_app(app);
  build.set_branch("main");
  build.set_status(status);
  build.set_commit(std::string(40, 'a'));
  return build;
}

}  // namespace tempa::coordinator::testing
