// RegistryClient's blob download half: streamed, bounded by the descriptor's size and checked
// against its digest while it arrives; nothing is kept of a blob that fails either check.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/posix_status.h"
#include "common/registry/registry_client.h"
#include "common/status_macros.h"

namespace tempa::registry {

absl::Status RegistryClient::GetBlobTo(absl::string_view repo, const Digest& digest, uint64_t size,
                                       const std::function<absl::Status(absl::string_view)>& sink,
                                       const std::function<bool()>& reset) {
  auto hasher = std::make_shared<Sha256>();
  uint64_t received = 0;
  Call call;
  call.request.url = Url(repo, "blobs", digest.ToString());
  call.request.follow_redirects = true;
  // Checked while streaming: one byte past the descriptor's size stops the transfer.
  call.request.body_sink = [&](absl::string_view data) {
    if (data.size() > size - received) {
      return absl::DataLossError(absl::StrCat("registry ", host_, " sent more than the ", size,
                                              " bytes the descriptor gives blob ",
                                              digest.ToString(), " (stopped reading)"));
    }
    received += data.size();
    hasher->Update(data);
    return sink(data);
  };
  call.request.rewind_sink = [&]() {
    if (!reset()) return false;
    hasher = std::make_shared<Sha256>();
    received = 0;
    return true;
  };
  call.repos = {std::string(repo)};
  HttpRequest request = call.request;
  ASSIGN_OR_RETURN(HttpResponse response, Do(std::move(call)));
  if (response.status != 200) return ErrorFor(request, response);
  if (received != size) {
    return absl::DataLossError(absl::StrCat("registry ", host_, " sent ", received,
                                            " bytes of blob ", digest.ToString(),
                                            " but the descriptor says ", size));
  }
  Digest got = hasher->Finish();
  if (got != digest) {
    return absl::DataLossError(absl::StrCat("blob ", digest.ToString(), " from ", host_, "/", repo,
                                            " hashes to ", got.ToString()));
  }
  return absl::OkStatus();
}

absl::Status RegistryClient::GetBlob(absl::string_view repo, const Digest& digest, uint64_t size,
                                     const std::string& path) {
  const std::string context =
      absl::StrCat("pull blob ", digest.ToString(), " from ", host_, "/", repo);
  // Into a temporary file beside `path`, renamed over it only once size and digest check out.
  std::string temp = path + ".partial-XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) return Annotate(ErrnoStatus(errno, "create", temp), context);
  auto sink = [&](absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoStatus(n < 0 ? errno : EIO, "write", temp);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  };
  auto reset = [&]() {  // the retry starts over
    return ::ftruncate(fd.get(), 0) == 0 && ::lseek(fd.get(), 0, SEEK_SET) == 0;
  };
  absl::Status status = GetBlobTo(repo, digest, size, sink, reset);
  if (status.ok() && ::close(fd.Release()) != 0) status = ErrnoStatus(errno, "close", temp);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus(errno, "rename", temp);
  }
  if (!status.ok()) ::unlink(temp.c_str());
  return Annotate(status, context);
}

absl::Status RegistryClient::GetBlob(absl::string_view repo, const Digest& digest, uint64_t size,
                                     cas::BlobWriter& writer) {
  auto sink = [&](absl::string_view data) { return writer.Append(data); };
  // A BlobWriter cannot be rewound: retry only when nothing reached it yet.
  auto reset = [&]() { return writer.size() == 0; };
  absl::Status status = GetBlobTo(repo, digest, size, sink, reset);
  if (status.ok()) status = writer.Commit(digest).status();
  return Annotate(status,
                  absl::StrCat("pull blob ", digest.ToString(), " from ", host_, "/", repo));
}

}  // namespace tempa::registry
