// A temporary directory for one test (or bench run), removed with everything in it on
// destruction. Also: a free loopback port for servers that cannot bind port 0 themselves.
#pragma once

#include <string>

namespace tempa::testing {

class TempDir {
 public:
  // Creates $TMPDIR/<prefix>XXXXXX (TMPDIR defaults to /tmp); crashes when it cannot.
  explicit TempDir(const std::string& prefix = "tempa-test-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A loopback port nothing listens on, picked below the kernel's ephemeral range so that no
// outgoing connection can take it before the caller's daemon binds it. Still racy against other
// listeners: callers that hand the port to another process should retry on "address in use".
int PickFreePort();

// Writes `contents` to `path` (crashes on failure: test setup only).
void WriteFileOrDie(const std::string& path, const std::string& contents);

}  // namespace tempa::testing
