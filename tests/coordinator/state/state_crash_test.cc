// Crash durability: a child process commits batches and reports each acknowledged one to the
// parent through a pipe; the parent SIGKILLs it at a random point, reopens the store and finds
// every acknowledged batch, and each committer's batches as an unbroken prefix (commit order is
// submission order).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "coordinator/state/state_store.h"
#include "gtest/gtest.h"
#include "tests/coordinator/state/scratch_dir.h"

namespace tempa::coordinator {
namespace {

using testing::MakeBuild;
using testing::ScratchDir;

constexpr int kBlockingCommitters = 4;
constexpr int kAsyncCommitter = kBlockingCommitters;  // its id
constexpr uint64_t kStride = 10'000'000;              // committer c's i-th build: c*kStride+i+1

uint64_t SequenceFor(int committer, uint64_t i) { return committer * kStride + i + 1; }

std::unique_ptr<StateBatch> BatchFor(StateStore& store, int committer, uint64_t i) {
  uint64_t sequence = SequenceFor(committer, i);
  auto batch = store.NewBatch();
  batch->PutBuild(MakeBuild(sequence, "app-" + std::to_string(committer)));
  v1::LogLine line;
  line.set_number(0);
  line.set_text("line of " + BuildIdFor(sequence));
  batch->AppendLog(BuildIdFor(sequence), line);
  batch->PutCounter("committer-" + std::to_string(committer), i + 1);
  return batch;
}

void Acknowledge(int fd, uint64_t sequence) {
  // 8 bytes < PIPE_BUF: each report arrives whole even with several writers.
  if (write(fd, &sequence, sizeof sequence) != sizeof sequence) _exit(3);
}

// The child: commits until killed. Never returns.
[[noreturn]] void CommitUntilKilled(const std::string& dir, int fd) {
  auto opened = OpenRocksdbStateStore(dir);
  if (!opened.ok()) _exit(2);
  StateStore& store = **opened;
  std::vector<std::thread> threads;
  for (int c = 0; c < kBlockingCommitters; ++c) {
    threads.emplace_back([&store, c, fd] {
      for (uint64_t i = 0;; ++i) {
        if (!store.Commit(BatchFor(store, c, i)).ok()) _exit(4);
        Acknowledge(fd, SequenceFor(c, i));
      }
    });
  }
  // One committer that keeps up to 32 CommitAsync batches in flight.
  absl::Mutex mu;
  int in_flight = 0;
  for (uint64_t i = 0;; ++i) {
    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight < 32; };
      mu.Await(absl::Condition(&room));
      ++in_flight;
    }
    uint64_t sequence = SequenceFor(kAsyncCommitter, i);
    store.CommitAsync(BatchFor(store, kAsyncCommitter, i),
                      [&mu, &in_flight, fd, sequence](absl::Status status) {
                        if (!status.ok()) _exit(4);
                        Acknowledge(fd, sequence);
                        absl::MutexLock lock(&mu);
                        --in_flight;
                      });
  }
}

TEST(StateStoreCrash, EveryAcknowledgedCommitSurvivesSigkillAtARandomPoint) {
  std::mt19937_64 random(std::random_device{}());
  for (int round = 0; round < 4; ++round) {
    ScratchDir dir;
    const std::string db = dir.Join("db");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      CommitUntilKilled(db, fds[1]);
    }
    close(fds[1]);
    const int kill_after = std::uniform_int_distribution<int>(1, 3000)(random);
    std::vector<uint64_t> acknowledged;
    auto read_one = [&]() {
      uint64_t sequence;
      ssize_t n = read(fds[0], &sequence, sizeof sequence);
      if (n != sizeof sequence) return false;
      acknowledged.push_back(sequence);
      return true;
    };
    while (static_cast<int>(acknowledged.size()) < kill_after && read_one()) {
    }
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int wait_status = 0;
    ASSERT_EQ(waitpid(child, &wait_status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wait_status)) << "the child stopped on its own, status " << wait_status;
    while (read_one()) {  // reports written before the kill are acknowledgements too
    }
    close(fds[0]);
    ASSERT_GE(static_cast<int>(acknowledged.size()), kill_after);

    auto reopened = OpenRocksdbStateStore(db);
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    StateStore& store = **reopened;
    std::map<int, uint64_t> acknowledged_per_committer;  // committer → batches acknowledged
    for (uint64_t sequence : acknowledged) {
      int c = static_cast<int>((sequence - 1) / kStride);
      uint64_t& count = acknowledged_per_committer[c];
      count = std::max(count, (sequence - 1) % kStride + 1);
      auto build = store.GetBuild(BuildIdFor(sequence));
      ASSERT_TRUE(build.ok()) << build.status();
      ASSERT_TRUE(build->has_value())
          << "round " << round << ": acknowledged build " << BuildIdFor(sequence) << " lost";
      auto log = store.ReadLog(BuildIdFor(sequence), 0, 10);
      ASSERT_TRUE(log.ok() && log->size() == 1) << BuildIdFor(sequence);
    }
    for (int c = 0; c <= kAsyncCommitter; ++c) {
      // Whatever survived of a committer is an unbroken prefix of what it submitted.
      auto counter = store.GetCounter("committer-" + std::to_string(c));
      ASSERT_TRUE(counter.ok());
      EXPECT_GE(*counter, acknowledged_per_committer[c]) << "committer " << c;
      auto newest = store.ListBuilds("app-" + std::to_string(c), 1);
      ASSERT_TRUE(newest.ok());
      if (*counter == 0) {
        EXPECT_TRUE(newest->empty());
        continue;
      }
      ASSERT_EQ(newest->size(), 1u);
      EXPECT_EQ((*newest)[0].id(), BuildIdFor(SequenceFor(c, *counter - 1)));
      for (uint64_t i = 0; i < *counter; ++i) {
        auto build = store.GetBuild(BuildIdFor(SequenceFor(c, i)));
        ASSERT_TRUE(build.ok() && build->has_value())
            << "committer " << c << " has batch " << *counter - 1 << " but not " << i;
      }
    }
  }
}

}  // namespace
}  // namespace tempa::coordinator
