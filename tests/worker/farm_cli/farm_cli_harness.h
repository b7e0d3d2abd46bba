// Runs `tempa` farm commands in process against a FakeCoordinator on loopback, with a hermetic
// environment (no variable of the test's own process leaks in) and a fixed clock.
#pragma once

#include <map>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/worker/farm_cli/fake_control_service.h"
#include "worker/cli/farm/farm_command.h"

namespace tempa::testing {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

// A streambuf whose text another thread may read while the command still writes.
class SharedTextBuf : public std::streambuf {
 public:
  std::string text() const {
    absl::MutexLock lock(&mu_);
    return text_;
  }
  // Waits until the text contains `needle`, or `limit` passed; returns whether it does.
  bool WaitFor(const std::string& needle, absl::Duration limit) const {
    absl::MutexLock lock(&mu_);
    auto has = [&] { return text_.find(needle) != std::string::npos; };
    mu_.AwaitWithTimeout(absl::Condition(&has), limit);
    return has();
  }

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) {
      char ch = static_cast<char>(c);
      xsputn(&ch, 1);
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    absl::MutexLock lock(&mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }

 private:
  mutable absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
};

// 2026-01-02 03:04:05 UTC: "now" for every command the fixture runs.
inline absl::Time FixedNow() { return absl::FromUnixSeconds(1767323045); }

class FarmCliTest : public ::testing::Test {
 protected:
  FakeControlService& fake() { return coordinator_.service(); }

  // `tempa --coordinator <fake> ARGS...`
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--coordinator", coordinator_.address()});
    return RunRaw(std::move(args));
  }

  // `tempa ARGS...` as given, with env_ as the environment.
  CliResult RunRaw(std::vector<std::string> args, std::ostream* out_stream = nullptr) {
    std::ostringstream out, err;
    cli::farm::FarmEnvironment environment = Environment();
    CliResult result;
    result.code = cli::farm::RunFarmCommand(std::move(args), out_stream ? *out_stream : out, err,
                                            environment);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  cli::farm::FarmEnvironment Environment() {
    cli::farm::FarmEnvironment environment;
    environment.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    environment.in = &stdin_;
    environment.now = [] { return FixedNow(); };
    environment.sleep = [](absl::Duration) {};
    return environment;
  }

  // A file in the test's directory holding `contents`; returns its path.
  std::string File(const std::string& name, const std::string& contents) {
    std::string path = dir_.Join(name);
    WriteFileOrDie(path, contents);
    return path;
  }

  FakeCoordinator coordinator_;
  TempDir dir_{"tempa-farm-cli-"};
  std::map<std::string, std::string> env_;
  std::istringstream stdin_;
};

}  // namespace tempa::testing
