// A tiny static program run inside test containers (tests/deploy/runtime). Modes:
//   serve            HTTP on 127.0.0.1:$PORT; every answer:
//                    "uid=U root_writable=0|1 tmp_writable=0|1"
//   hog              allocates and touches memory 1 MiB at a time until killed
//   exit CODE MS     prints "exiting", sleeps MS milliseconds, exits with CODE
//   print N          prints "line 1" .. "line N", then sleeps forever
//   forkbomb         forks sleeping children until fork fails, prints how many, exits 3
//   sleep            sleeps forever; on SIGTERM prints "got SIGTERM" and exits 0
//   ignoreterm       ignores SIGTERM and sleeps forever
//   nohandler        sleeps forever with every signal at its default action
//   whoami           prints "pid=P hostname=H", then its CapEff and NoNewPrivs lines of
//                    /proc/self/status, then sleeps forever
//   reopenlog        on SIGUSR1 tries to reopen its stdout by path (/proc/self/fd/1) and prints
//                    "reopen allowed" or "reopen denied"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int CanWrite(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 0;
  int ok = write(fd, "x", 1) == 1;
  close(fd);
  unlink(path);
  return ok;
}

static int Serve(void) {
  const char* port = getenv("PORT");
  if (port == NULL) {
    fprintf(stderr, "no PORT\n");
    return 2;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(s, 16) != 0) {
    fprintf(stderr, "bind %s: %s\n", port, strerror(errno));
    return 2;
  }
  printf("listening on %s\n", port);
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    char req[2048];
    (void)read(c, req, sizeof req);
    char body[256];
    int n = snprintf(body, sizeof body, "uid=%d root_writable=%d tmp_writable=%d\n", (int)getuid(),
                     CanWrite("/probe"), CanWrite("/tmp/probe"));
    char resp[512];
    int m =
        snprintf(resp, sizeof resp,
                 "HTTP/1.0 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", n, body);
    (void)write(c, resp, (size_t)m);
    close(c);
  }
}

// Every block stays reachable and is written through a volatile pointer: clang (the sanitizer
// build's compiler) otherwise removes an allocation nobody reads.
static char* volatile hoard[1 << 16];

static void Hog(void) {
  for (long mib = 1;; ++mib) {
    char* p = malloc(1 << 20);
    if (p == NULL) continue;
    volatile char* touch = p;
    for (long i = 0; i < (1 << 20); i += 4096) touch[i] = 1;
    hoard[mib % (1 << 16)] = p;
    if (mib % 16 == 0) {
      printf("allocated %ld MiB\n", mib);
      fflush(stdout);
    }
  }
}

static int ForkBomb(void) {
  int children = 0;
  for (;;) {
    pid_t pid = fork();
    if (pid == 0) {
      pause();
      _exit(0);
    }
    if (pid < 0) {
      printf("fork failed after %d children: %s\n", children, strerror(errno));
      fflush(stdout);
      return 3;
    }
    if (++children > 100000) return 4;
  }
}

static void OnTerm(int sig) {
  (void)sig;
  static const char kMsg[] = "got SIGTERM\n";
  (void)write(1, kMsg, sizeof kMsg - 1);
  _exit(0);
}

static volatile sig_atomic_t usr1 = 0;
static void OnUsr1(int sig) {
  (void)sig;
  usr1 = 1;
}

static int ReopenLog(void) {
  signal(SIGUSR1, OnUsr1);
  printf("waiting for SIGUSR1\n");
  fflush(stdout);
  for (;;) {
    pause();
    if (!usr1) continue;
    usr1 = 0;
    int fd = open("/proc/self/fd/1", O_WRONLY | O_APPEND);
    printf("reopen %s\n", fd >= 0 ? "allowed" : "denied");
    fflush(stdout);
    if (fd >= 0) close(fd);
  }
}

static int WhoAmI(void) {
  char host[256] = "";
  gethostname(host, sizeof host);
  printf("pid=%d hostname=%s\n", (int)getpid(), host);
  FILE* status = fopen("/proc/self/status", "r");
  char line[512];
  while (status != NULL && fgets(line, sizeof line, status) != NULL) {
    if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "NoNewPrivs:", 11) == 0) {
      fputs(line, stdout);
    }
  }
  if (status != NULL) fclose(status);
  fflush(stdout);
  for (;;) pause();
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (strcmp(argv[1], "serve") == 0) return Serve();
  if (strcmp(argv[1], "hog") == 0) Hog();
  if (strcmp(argv[1], "forkbomb") == 0) return ForkBomb();
  if (strcmp(argv[1], "reopenlog") == 0) return ReopenLog();
  if (strcmp(argv[1], "whoami") == 0) return WhoAmI();
  if (strcmp(argv[1], "exit") == 0 && argc == 4) {
    printf("exiting\n");
    fflush(stdout);
    usleep((useconds_t)atoi(argv[3]) * 1000);
    return atoi(argv[2]);
  }
  if (strcmp(argv[1], "print") == 0 && argc == 3) {
    for (int i = 1; i <= atoi(argv[2]); ++i) printf("line %d\n", i);
    fflush(stdout);
    for (;;) pause();
  }
  if (strcmp(argv[1], "sleep") == 0) {
    signal(SIGTERM, OnTerm);
    printf("sleeping\n");
    fflush(stdout);
    for (;;) pause();
  }
  if (strcmp(argv[1], "nohandler") == 0) {
    printf("sleeping without handlers\n");
    fflush(stdout);
    for (;;) pause();
  }
  if (strcmp(argv[1], "ignoreterm") == 0) {
    signal(SIGTERM, SIG_IGN);
    printf("ignoring SIGTERM\n");
    fflush(stdout);
    for (;;) pause();
  }
  return 2;
}
