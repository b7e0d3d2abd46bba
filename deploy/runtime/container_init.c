/* tempa-container-init: PID 1 of a container when the runtime is given it (like tini or
 * docker --init). The kernel ignores signals an init has no handler for, so an app run as PID 1
 * without a SIGTERM handler (most Python and Rust servers) could only be stopped by SIGKILL;
 * and nothing would reap the orphans its children leave. This init runs the app as its child,
 * forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it, reaps every child,
 * and exits with the app's status (128+N when a signal N ended it), saying so on stderr.
 *
 * Usage: tempa-container-init -- PROGRAM [ARGS...] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3 || strcmp(argv[1], "--") != 0) {
    fprintf(stderr, "usage: %s -- PROGRAM [ARGS...]\n", argv[0]);
    return 127;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t app = fork();
  if (app < 0) {
    fprintf(stderr, "tempa-container-init: fork: %s\n", strerror(errno));
    return 127;
  }
  if (app == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "tempa-container-init: cannot run %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT || sig == SIGUSR1 ||
          sig == SIGUSR2) {
        kill(app, sig);
      }
      continue;
    }
    for (;;) {
      int status = 0;
      pid_t done = waitpid(-1, &status, WNOHANG);
      if (done <= 0) break;
      if (done != app) continue;
      if (WIFSIGNALED(status)) {
        fprintf(stderr, "tempa-container-init: the app was ended by signal %d\n", WTERMSIG(status));
        return 128 + WTERMSIG(status);
      }
      return WEXITSTATUS(status);
    }
  }
}
