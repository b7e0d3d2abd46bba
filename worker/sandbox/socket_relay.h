// Byte relaying between two connected sockets, shared by the host's egress proxy and the
// in-sandbox network bridge. Internal to worker/sandbox.
#pragma once

#include <cstddef>
#include <string>

namespace tempa::sandbox_internal {

// Copies bytes both ways between `a` and `b` until both directions have closed (a half-close is
// passed on with shutdown(SHUT_WR)) or an error. Does not close the fds.
void RelayUntilClosed(int a, int b);

// Reads from `fd` until "\r\n\r\n" (the end of an HTTP head), `max_bytes`, or `timeout_ms`
// without a byte. On success `head` holds the head including its blank line and `rest` whatever
// was read past it.
bool ReadHttpHead(int fd, size_t max_bytes, std::string& head, std::string& rest,
                  int timeout_ms = 30000);

// Writes all of `data`; false on error.
bool WriteAll(int fd, const std::string& data);

// A TCP connection to host:port (the first few addresses getaddrinfo gives); -1 on failure,
// with `error` saying why (a name that does not resolve, a refused or timed-out connect).
int ConnectTcp(const std::string& host, int port, std::string& error);
// A connection to the Unix socket at `path`; -1 on failure.
int ConnectUnix(const std::string& path);

}  // namespace tempa::sandbox_internal
