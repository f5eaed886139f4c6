/*
 * The C tests' harness: checks that print the failing call with shmkit_last_error(), unique
 * object names, and child processes (this program re-run with a role), on POSIX and Windows.
 *
 * A test program's main dispatches: with arguments it is a child (argv[1] is its role), without
 * it is the test, which spawns children with spawn_self(). Every program exits 0 on success.
 */
#ifndef SHMKIT_TEST_HARNESS_H
#define SHMKIT_TEST_HARNESS_H

#include "shmkit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
/* windows.h defines short names (MSG, min, max, ...): keep what it brings in small. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#include <process.h>
typedef HANDLE child_t;
#define getpid _getpid
#else
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
typedef pid_t child_t;
#endif

static const char *harness_argv0;

#define FAIL(...)                                                                            \
  do {                                                                                       \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                          \
    fprintf(stderr, __VA_ARGS__);                                                            \
    fprintf(stderr, "\n");                                                                   \
    exit(1);                                                                                 \
  } while (0)

/* The call must succeed. */
#define CHECK(call)                                                                          \
  do {                                                                                       \
    shmkit_status s_ = (call);                                                               \
    if (s_ != SHMKIT_OK)                                                                     \
      FAIL("%s -> %s: %s", #call, shmkit_status_name(s_), shmkit_last_error());              \
  } while (0)

/* The call must fail with `want`. */
#define EXPECT_STATUS(call, want)                                                            \
  do {                                                                                       \
    shmkit_status s_ = (call);                                                               \
    if (s_ != (want))                                                                        \
      FAIL("%s -> %s, expected %s (%s)", #call, shmkit_status_name(s_),                      \
           shmkit_status_name(want), shmkit_last_error());                                   \
  } while (0)

#define EXPECT(cond)                                                                         \
  do {                                                                                       \
    if (!(cond)) FAIL("expected %s", #cond);                                                 \
  } while (0)

/* The last error message must contain `needle` (it names the object). */
#define EXPECT_ERROR_MENTIONS(needle)                                                        \
  do {                                                                                       \
    if (!strstr(shmkit_last_error(), (needle)))                                              \
      FAIL("last error \"%s\" does not mention \"%s\"", shmkit_last_error(), (needle));      \
  } while (0)

/* A name no other test uses: c-<what>-<pid>-<counter>. */
static inline void unique_name(char *buf, size_t len, const char *what) {
  static unsigned counter;
  snprintf(buf, len, "c-%s-%d-%u", what, (int)getpid(), counter++);
}

static inline void sleep_ms(unsigned ms) {
#ifdef _WIN32
  Sleep(ms);
#else
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
#endif
}

/* Starts this program again with arguments `role` and `arg` (a child of the test). */
static inline child_t spawn_self(const char *role, const char *arg) {
#ifdef _WIN32
  /* The child shares this console's standard handles, so its failure messages are seen. */
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "\"%s\" %s %s", harness_argv0, role, arg ? arg : "-");
  fflush(NULL);
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
  si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
  si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
    FAIL("CreateProcess %s: error %lu", cmd, GetLastError());
  CloseHandle(pi.hThread);
  return pi.hProcess;
#else
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) FAIL("fork failed");
  if (pid == 0) {
    execl(harness_argv0, harness_argv0, role, arg ? arg : "-", (char *)NULL);
    _exit(127);
  }
  return pid;
#endif
}

/* Waits for a child; returns its exit code (128 + signal if a signal ended it). */
static inline int wait_child(child_t c) {
#ifdef _WIN32
  DWORD code = 0;
  if (WaitForSingleObject(c, INFINITE) != WAIT_OBJECT_0) FAIL("WaitForSingleObject failed");
  if (!GetExitCodeProcess(c, &code)) FAIL("GetExitCodeProcess failed");
  CloseHandle(c);
  return (int)code;
#else
  int status = 0;
  if (waitpid(c, &status, 0) < 0) FAIL("waitpid failed");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
#endif
}

/* Kills a child at once (SIGKILL, TerminateProcess): it gets no chance to clean up. */
static inline void kill_child(child_t c) {
#ifdef _WIN32
  /* 128 + SIGKILL, as wait_child reports a killed POSIX child. */
  if (!TerminateProcess(c, 137)) FAIL("TerminateProcess failed: error %lu", GetLastError());
#else
  kill(c, SIGKILL);
#endif
  (void)wait_child(c);
}

/* The child must exit 0. */
#define EXPECT_CHILD_OK(c)                                                                   \
  do {                                                                                       \
    int code_ = wait_child(c);                                                               \
    if (code_ != 0) FAIL("child exited with %d", code_);                                     \
  } while (0)

#endif
