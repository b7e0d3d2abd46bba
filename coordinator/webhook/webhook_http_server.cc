#include "coordinator/webhook/webhook_http_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "coordinator/webhook/bounded_socket_stream.h"
#include "httplib.h"

namespace tempa::coordinator {
namespace {

constexpr char kWebhookPath[] = "/webhooks/github";
constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";
// How long a closing connection waits for the client to stop sending (and read our answer).
constexpr absl::Duration kLinger = absl::Seconds(2);
// What a closing connection reads and drops at most: GitHub's payload cap (25 MB) and some, so
// GitHub shows our 413 rather than a reset. Nothing of it is kept.
constexpr size_t kLingerBytes = 32 << 20;

void SetReply(httplib::Response& res, const HttpReply& reply) {
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type.c_str());
}

void SetError(httplib::Response& res, int status, const std::string& error,
              const std::string& fix = "") {
  SetReply(res, JsonErrorReply(status, error, fix));
}

// SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which would let a second
// coordinator bind the same port and silently take half the deliveries.
void ListenerSocketOptions(int sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

// cpp-httplib's server, each connection served through a BoundedSocketStream: one request, then
// a lingering close.
class WebhookHttpServer::BoundedServer : public httplib::Server {
 public:
  explicit BoundedServer(const WebhookHttpServer::Options& options) : options_(options) {}

  // Set once listen_after_bind() has returned.
  std::atomic<bool> done{false};

 private:
  bool process_and_close_socket(int sock) override {
    bool ok = false;
    try {
      // The head, the body, and chunk framing of a body at the limit.
      size_t budget = options_.max_header_bytes + 2 * options_.max_body_bytes + 4096;
      BoundedSocketStream stream(sock, budget, absl::Now() + options_.request_timeout,
                                 options_.read_timeout, options_.write_timeout);
      bool connection_closed = false;
      ok = process_request(stream, /*close_connection=*/true, connection_closed, nullptr);
      stream.LingeringShutdown(kLinger, kLingerBytes);
    } catch (...) {
      ok = false;  // nothing may leave a server thread; the connection just closes
    }
    ::close(sock);
    return ok;
  }

  WebhookHttpServer::Options options_;
};

WebhookHttpServer::WebhookHttpServer(Options options, GithubWebhookHandler* handler,
                                     std::function<std::string()> metrics_text)
    : options_(std::move(options)),
      handler_(handler),
      metrics_text_(std::move(metrics_text)),
      server_(std::make_unique<BoundedServer>(options_)) {}

WebhookHttpServer::~WebhookHttpServer() { Stop(); }

void WebhookHttpServer::Route() {
  httplib::Server& s = *server_;
  const size_t max_body = options_.max_body_bytes;
  int threads = std::max(1, options_.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_socket_options(ListenerSocketOptions);
  s.set_keep_alive_max_count(1);
  // Bodies the routes below do not read themselves are refused past the limit too.
  s.set_payload_max_length(max_body);

  // Decided from the request line and headers alone, before any body is read.
  s.set_pre_routing_handler([max_body](const httplib::Request& req, httplib::Response& res) {
    using R = httplib::Server::HandlerResponse;
    if (req.path == "/metrics" || req.path == "/healthz") {
      if (req.method == "GET" || req.method == "HEAD") return R::Unhandled;
      res.set_header("Allow", "GET, HEAD");
      SetError(res, 405, absl::StrCat(req.method, " ", req.path, ": method not allowed"),
               "use GET");
      return R::Handled;
    }
    if (req.path != kWebhookPath) {
      SetError(res, 404, absl::StrCat("no such path: ", req.path),
               absl::StrCat("GitHub webhooks go to POST ", kWebhookPath));
      return R::Handled;
    }
    if (req.method != "POST") {
      res.set_header("Allow", "POST");
      SetError(res, 405, absl::StrCat(req.method, " ", req.path, ": method not allowed"),
               "GitHub webhooks are POSTed");
      return R::Handled;
    }
    std::string encoding = absl::AsciiStrToLower(req.get_header_value("Content-Encoding"));
    if (!encoding.empty() && encoding != "identity") {
      SetError(res, 415, absl::StrCat("Content-Encoding ", encoding, " is not accepted"),
               "send the payload uncompressed");
      return R::Handled;
    }
    if (absl::StartsWithIgnoreCase(req.get_header_value("Content-Type"), "multipart/")) {
      SetError(res, 415, "a multipart body is not a webhook payload",
               "set the webhook's content type to application/json");
      return R::Handled;
    }
    bool chunked = req.has_header("Transfer-Encoding");
    if (chunked && absl::AsciiStrToLower(req.get_header_value("Transfer-Encoding")) != "chunked") {
      SetError(res, 400, "only the chunked Transfer-Encoding is accepted");
      return R::Handled;
    }
    if (!chunked) {
      uint64_t length = 0;
      if (req.get_header_value_count("Content-Length") != 1 ||
          !absl::SimpleAtoi(req.get_header_value("Content-Length"), &length)) {
        SetError(res, 411, "a webhook needs one valid Content-Length header (or a chunked body)");
        return R::Handled;
      }
      if (length > max_body) {
        SetError(res, 413,
                 absl::StrCat("body of ", length, " bytes is over this server's limit of ",
                              max_body, " bytes"),
                 "push payloads are far smaller; check the webhook's URL and events");
        return R::Handled;
      }
    }
    return R::Unhandled;
  });

  // A client that asks first (curl does for large bodies) is told 413 before it sends any.
  s.set_expect_100_continue_handler([max_body](const httplib::Request& req,
                                               httplib::Response& res) {
    uint64_t length = 0;
    if (absl::SimpleAtoi(req.get_header_value("Content-Length"), &length) && length > max_body) {
      SetError(res, 413,
               absl::StrCat("body of ", length, " bytes is over this server's limit of ", max_body,
                            " bytes"));
      return 413;
    }
    return 100;
  });

  s.Post(kWebhookPath, [this, max_body](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    WebhookDelivery delivery;
    bool too_large = false;
    bool read = reader([&](const char* data, size_t n) {
      if (delivery.body.size() + n > max_body) {
        too_large = true;
        return false;
      }
      delivery.body.append(data, n);
      return true;
    });
    if (too_large) {
      SetError(res, 413, absl::StrCat("body is over this server's limit of ", max_body, " bytes"),
               "push payloads are far smaller; check the webhook's URL and events");
      return;
    }
    if (!read) {
      SetError(res, 400, "the request body could not be read (malformed, too slow or cut short)");
      return;
    }
    delivery.event = req.get_header_value("X-GitHub-Event");
    delivery.delivery_id = req.get_header_value("X-GitHub-Delivery");
    delivery.signature = req.get_header_value("X-Hub-Signature-256");
    delivery.content_type = req.get_header_value("Content-Type");
    SetReply(res, handler_->Handle(delivery));
  });

  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    if (!metrics_text_) {
      SetError(res, 404, "this server exports no metrics");
      return;
    }
    res.set_content(metrics_text_(), kMetricsContentType);
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });

  // Errors cpp-httplib answers itself (a malformed request line, a body it could not read) get
  // the same JSON shape as ours.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        SetError(res, res.status, absl::StrCat("HTTP ", res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    SetError(res, 500, "internal error");
  });
}

absl::StatusOr<int> WebhookHttpServer::Start() {
  Route();
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("webhook listener: cannot bind ", options_.host, ":", options_.port,
                     " (in use, or not an address of this host); choose another --webhook-listen"));
  }
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    server_->done = true;
  });
  // Stop() is a no-op until the accept loop runs; wait for it so a Stop() right after Start()
  // cannot be lost.
  while (!server_->is_running() && !server_->done)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

void WebhookHttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace tempa::coordinator
