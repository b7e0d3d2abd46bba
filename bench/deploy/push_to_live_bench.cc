// Push-to-live on the local backend, for each example app after a code-only change: from the
// signed webhook to the first request the new version answers through nginx, split into build,
// push, deploy delivery, pull/unpack, start + health check and switch-over; beside it the bare
// toolchain's incremental build of the same change in the same run. Target: push-to-live <=
// toolchain time + 3 s. Runs the real stack (registry, coordinator, worker, deployer, nginx).
//   build/bench/deploy/push_to_live_bench [go-hello rust-hello python-flask]
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "tests/e2e/deploy_fixture.h"
#include "tests/e2e/subprocess.h"
#include "tests/support/git_repo_builder.h"
#include "tests/support/pypi_index.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

using nlohmann::json;

constexpr char kSecret[] = "bench-secret";

struct Example {
  std::string name;      // examples/NAME and the app's name
  std::string file;      // the file the code-only change edits
  std::string from, to;  // the edit (the answer changes with it)
  std::string marker;    // what the new version's answer holds
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Applies the code-only change number `n` to the tree at `dir`; returns the marker.
std::string Change(const Example& example, const std::string& dir, int n) {
  std::string path = dir + "/" + example.file;
  std::string text = ReadFile(path);
  std::string marker = absl::StrCat(example.marker, " rev ", n);
  std::string to = absl::StrReplaceAll(example.to, {{"MARKER", marker}});
  size_t at = text.find(example.from);
  if (at == std::string::npos) {
    // Later revisions: replace the previous marker.
    std::string previous = absl::StrCat(example.marker, " rev ", n - 1);
    text = absl::StrReplaceAll(text, {{previous, marker}});
  } else {
    text.replace(at, example.from.size(), to);
  }
  WriteFile(path, text);
  return marker;
}

// The bare toolchain's incremental build of the same change, in a copy of the example.
absl::Duration ToolchainTime(const Example& example, const std::string& dir, int n) {
  std::vector<std::string> build;
  if (absl::StartsWith(example.name, "go")) {
    build = {"sh", "-c", "cd " + dir + " && go build -trimpath -o /tmp/tempa-bench-go-bin ."};
  } else if (absl::StartsWith(example.name, "rust")) {
    build = {"sh", "-c", "cd " + dir + " && cargo build --release --offline --quiet"};
  } else {
    return absl::ZeroDuration();  // Python: nothing to compile for a code-only change
  }
  RunCommand(build);  // warm
  Change(example, dir, n);
  absl::Time start = absl::Now();
  CommandResult result = RunCommand(build);
  absl::Duration took = absl::Now() - start;
  if (result.exit_code != 0) std::cerr << "toolchain build failed: " << result.err << "\n";
  return took;
}

int64_t Ms(const json& object, const char* key) {
  if (!object.contains(key)) return 0;
  const json& value = object[key];
  if (value.is_number()) return value.get<int64_t>();
  if (value.is_string()) return std::atoll(value.get<std::string>().c_str());
  return 0;
}

// Seconds the build's log says its push step took ("tempa: push 0.31s ...").
double PushSeconds(DeployFarm& stack, const std::string& build_id) {
  CommandResult logs = stack.farm().Cli({"builds", "logs", build_id});
  size_t at = logs.out.find("tempa: push ");
  if (at == std::string::npos) return 0;
  return std::atof(logs.out.c_str() + at + 12);
}

int Run(const std::vector<std::string>& names) {
  std::string why;
  if (!DeployFarm::Available(&why)) {
    std::cerr << "push_to_live_bench: " << why << "\n";
    return 1;
  }
  std::vector<Example> examples = {
      {"go-hello", "main.go", "fmt.Fprintln(w, greeting.Hello(\"go\"))",
       "fmt.Fprintln(w, greeting.Hello(\"go\"), \"MARKER\")", "go"},
      {"rust-hello", "crates/greeting/src/lib.rs", "format!(\"hello from tempa ({language})\\n\")",
       "format!(\"hello from tempa ({language}) MARKER\\n\")", "rust"},
      {"python-flask", "app.py", "\"hello from tempa (python)\\n\"",
       "\"hello from tempa (python) MARKER\\n\"", "python"},
  };
  DeployFarm stack;
  if (absl::Status s = stack.Start(); !s.ok()) {
    std::cerr << "could not start the stack: " << s << "\n";
    return 1;
  }
  TempDir work("tempa-push-to-live-");
  WriteFile(stack.farm().path("secret"), kSecret);
  std::unique_ptr<PypiIndex> index;

  std::cout << absl::StrFormat("%-13s %9s %7s %6s %9s %9s %8s %8s %9s %10s %s\n", "app",
                               "push→live", "build", "push", "delivery", "pull", "health", "switch",
                               "toolchain", "target", "verdict");
  for (const Example& example : examples) {
    if (!names.empty() && std::find(names.begin(), names.end(), example.name) == names.end()) {
      continue;
    }
    std::string repo_dir = work.Join(example.name);
    std::string copy_dir = work.Join(example.name + "-toolchain");
    RunCommand({"cp", "-r", absl::StrCat(TEMPA_SOURCE_DIR, "/examples/", example.name), repo_dir});
    RunCommand({"cp", "-r", repo_dir, copy_dir});
    GitRepoBuilder repo(repo_dir);
    std::string sha = repo.Commit("import");
    std::vector<std::string> create = {"apps",
                                       "create",
                                       example.name,
                                       "--repo",
                                       "file://" + repo_dir,
                                       "--webhook-secret-file",
                                       stack.farm().path("secret")};
    if (example.name == "python-flask") {
      if (!index) {
        absl::StatusOr<std::vector<std::string>> wheels =
            MakeDebianWheels(work.Join("wheels"), FlaskAndGunicornSpecs());
        if (!wheels.ok()) {
          std::cerr << "no wheels: " << wheels.status() << "\n";
          return 1;
        }
        absl::StatusOr<std::unique_ptr<PypiIndex>> started =
            PypiIndex::Start(work.Join("index"), *wheels);
        if (!started.ok()) return 1;
        index = *std::move(started);
      }
      create.insert(create.end(), {"--env", "PIP_INDEX_URL=" + index->url()});
    }
    if (stack.farm().Cli(create).exit_code != 0) return 1;
    std::string host = absl::StrCat(example.name, ".", kDeployDomain);
    auto push = [&](const std::string& commit, const std::string& delivery) -> std::string {
      HttpAnswer answer = stack.farm().PostWebhook(
          "push", delivery, GithubPushPayload("file://" + repo_dir, "main", commit), kSecret);
      json body = json::parse(answer.body, nullptr, false);
      if (!body.is_object() || !body.contains("builds") || body["builds"].empty()) return "";
      return body["builds"][0].value("id", "");
    };
    // The first (cold) build and deploy, not measured.
    absl::StatusOr<json> first = stack.WaitForDeploy(push(sha, example.name + "-0"));
    if (!first.ok() || (*first)["deploy"].value("status", "") != "DEPLOYED") {
      std::cerr << example.name << ": first deploy failed: "
                << (first.ok() ? first->dump(2) : first.status().ToString()) << "\n";
      return 1;
    }
    std::string marker = Change(example, repo_dir, 1);
    std::string changed = repo.Commit("code-only change");
    absl::Time start = absl::Now();
    std::string id = push(changed, example.name + "-1");
    absl::Duration live = absl::InfiniteDuration();
    while (absl::Now() - start < absl::Minutes(5)) {
      if (absl::StrContains(stack.EdgeGet(host).body, marker)) {
        live = absl::Now() - start;
        break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    absl::StatusOr<json> build = stack.WaitForDeploy(id);
    if (!build.ok()) return 1;
    const json& deploy = (*build)["deploy"];
    double build_s = (Ms(*build, "finished_unix_ms") - Ms(*build, "queued_unix_ms")) / 1000.0;
    double push_s = PushSeconds(stack, id);
    double delivery_s = (Ms(deploy, "started_unix_ms") - Ms(*build, "finished_unix_ms")) / 1000.0;
    // The local backend's steps: "pulling" (or "using the kept image"), "starting",
    // "health check at PATH", "switching", "draining ...", "live".
    double pull_s = 0, health_s = 0, switch_s = 0;
    if (deploy.contains("steps")) {
      for (const json& step : deploy["steps"]) {
        std::string name = step.value("name", "");
        double took = Ms(step, "took_ms") / 1000.0;
        if (absl::StartsWith(name, "pulling") || absl::StartsWith(name, "using the kept")) {
          pull_s += took;
        } else if (absl::StartsWith(name, "starting") || absl::StartsWith(name, "health")) {
          health_s += took;
        } else if (absl::StartsWith(name, "switching")) {
          switch_s += took;
        }
      }
    }
    absl::Duration toolchain = ToolchainTime(example, copy_dir, 1);
    absl::Duration target = toolchain + absl::Seconds(3);
    std::cout << absl::StrFormat(
        "%-13s %8.2fs %6.2fs %5.2fs %8.2fs %8.2fs %7.2fs %7.2fs %8.2fs %9.2fs %s\n", example.name,
        absl::ToDoubleSeconds(live), build_s - push_s, push_s, delivery_s, pull_s, health_s,
        switch_s, absl::ToDoubleSeconds(toolchain), absl::ToDoubleSeconds(target),
        live <= target ? "met" : "MISSED");
  }
  std::cout << "build = webhook→image (queue, fetch, compile, layers; push shown apart); pull = "
               "registry→rootfs; health = start + health check; switch = nginx reload until live\n";
  return 0;
}

}  // namespace
}  // namespace tempa::testing

int main(int argc, char** argv) {
  std::vector<std::string> names(argv + 1, argv + argc);
  return tempa::testing::Run(names);
}
