// A cpp-httplib Stream over one accepted socket that refuses to read more than a byte budget or
// past a deadline: cpp-httplib 0.11 reads request lines and headers without a size limit, so the
// budget is what bounds a request's memory and the deadline what bounds a slow client's hold on a
// thread. Internal to WebhookHttpServer.
#pragma once

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "httplib.h"

namespace tempa::coordinator {

class BoundedSocketStream : public httplib::Stream {
 public:
  BoundedSocketStream(int sock, size_t read_budget, absl::Time deadline,
                      absl::Duration read_timeout, absl::Duration write_timeout);

  bool is_readable() const override;
  bool is_writable() const override;
  // -1 once the budget is spent (budget_exhausted() then says so), at the deadline, or on error.
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return sock_; }

  bool budget_exhausted() const { return budget_exhausted_; }

  // After the response: stop sending, then read and drop what the client still sends (at most
  // `max_bytes`, for at most `linger`) so it reads our answer rather than a connection reset.
  void LingeringShutdown(absl::Duration linger, size_t max_bytes);

 private:
  // Waits until the socket is ready for `events`, at most `timeout` and never past the deadline.
  bool Wait(short events, absl::Duration timeout) const;

  int sock_;
  size_t budget_;
  absl::Time deadline_;
  absl::Duration read_timeout_;
  absl::Duration write_timeout_;
  bool budget_exhausted_ = false;
  char buffer_[4096];
  size_t buffer_pos_ = 0;
  size_t buffer_len_ = 0;
};

}  // namespace tempa::coordinator
