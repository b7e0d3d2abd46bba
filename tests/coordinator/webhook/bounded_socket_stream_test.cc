// The byte budget and deadline that bound every request the webhook listener reads.
#include "coordinator/webhook/bounded_socket_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tempa::coordinator {
namespace {

class BoundedSocketStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    ::close(fds_[0]);
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  void Send(const std::string& data) {
    ASSERT_EQ(::send(fds_[1], data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }
  // Reads until read() stops giving bytes; returns the total and the last result.
  size_t Drain(BoundedSocketStream& stream, ssize_t* last) {
    size_t total = 0;
    char buf[1000];
    while ((*last = stream.read(buf, sizeof(buf))) > 0) total += static_cast<size_t>(*last);
    return total;
  }

  int fds_[2] = {-1, -1};
};

TEST_F(BoundedSocketStreamTest, ReadingStopsAtTheBudget) {
  Send(std::string(10000, 'a'));
  BoundedSocketStream stream(fds_[0], 4096, absl::Now() + absl::Seconds(30), absl::Seconds(5),
                             absl::Seconds(5));
  ssize_t last = 0;
  EXPECT_EQ(Drain(stream, &last), 4096u);
  EXPECT_EQ(last, -1);
  EXPECT_TRUE(stream.budget_exhausted());
}

TEST_F(BoundedSocketStreamTest, ReadingGivesUpAtTheDeadlineEvenWithALongReadTimeout) {
  Send("partial");
  // Long enough that a stalled test process still reads what is buffered before it passes.
  BoundedSocketStream stream(fds_[0], 1 << 20, absl::Now() + absl::Seconds(2), absl::Hours(1),
                             absl::Hours(1));
  ssize_t last = 0;
  EXPECT_EQ(Drain(stream, &last), 7u);
  EXPECT_EQ(last, -1);
  EXPECT_FALSE(stream.budget_exhausted());
}

TEST_F(BoundedSocketStreamTest, ReadingReturnsZeroWhenThePeerCloses) {
  Send("bye");
  ::close(fds_[1]);
  fds_[1] = -1;
  BoundedSocketStream stream(fds_[0], 1 << 20, absl::Now() + absl::Seconds(30), absl::Seconds(5),
                             absl::Seconds(5));
  ssize_t last = 0;
  EXPECT_EQ(Drain(stream, &last), 3u);
  EXPECT_EQ(last, 0);
}

}  // namespace
}  // namespace tempa::coordinator
