/*
 * The classic Win32 shared memory client (OpenFileMapping + MapViewOfFile + MessageBox), on
 * shmkit. The original must be started after the server has written, or it reads nothing (or
 * fails to open); this one may be started first: it waits for the server's event.
 *
 *   client [NAME]    (default MySharedMem)
 *
 * Waits up to 30 s for event NAME-ready to appear and be set, opens segment NAME read-only,
 * prints the message, and sets NAME-done so the server can close.
 */
#include <shmkit.h>

#include <stdio.h>
#include <string.h>

#define BUF_SIZE 256
#define SECONDS (1000000000LL)

static int fail(const char *what, shmkit_status s) {
  fprintf(stderr, "client: %s: %s (%s)\n", what, shmkit_last_error(), shmkit_status_name(s));
  return 1;
}

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "MySharedMem";
  char ready_name[200], done_name[200];
  snprintf(ready_name, sizeof ready_name, "%s-ready", name);
  snprintf(done_name, sizeof done_name, "%s-done", name);

  /* Wait for the server: its event may not exist yet (open_timeout_ns waits for it), and is
   * set once the message is written. */
  shmkit_event_options eo = shmkit_event_options_default();
  eo.open_timeout_ns = 30 * SECONDS;
  shmkit_event *ready;
  shmkit_status s = shmkit_event_open(ready_name, &eo, &ready);
  if (s != SHMKIT_OK) return fail("open the ready event", s);
  s = shmkit_event_wait(ready, 30 * SECONDS);
  if (s != SHMKIT_OK) return fail("wait for the server", s);

  /* OpenFileMapping(FILE_MAP_READ, FALSE, name) + MapViewOfFile(..., BUF_SIZE) */
  shmkit_segment_options so = shmkit_segment_options_default();
  so.read_only = true;
  so.size = BUF_SIZE; /* at least this many bytes */
  shmkit_segment *seg;
  s = shmkit_segment_open(name, &so, &seg);
  if (s != SHMKIT_OK) return fail("open the segment", s);
  shmkit_view *view;
  s = shmkit_segment_map(seg, SHMKIT_READ_ONLY, &view);
  if (s != SHMKIT_OK) return fail("map the segment", s);

  /* MessageBox(NULL, pBuf, TEXT("Process2"), MB_OK): copied out and NUL-terminated, as the
   * server is another process that could change the bytes. */
  char msg[BUF_SIZE];
  s = shmkit_view_read(view, 0, msg, sizeof msg);
  if (s != SHMKIT_OK) return fail("read the message", s);
  msg[sizeof msg - 1] = '\0';
  printf("client: %s\n", msg);

  shmkit_view_close(view);
  shmkit_segment_close(seg);
  shmkit_event_close(ready);

  shmkit_event *done;
  eo.open_timeout_ns = 0;
  s = shmkit_event_open(done_name, &eo, &done);
  if (s != SHMKIT_OK) return fail("open the done event", s);
  s = shmkit_event_set(done);
  shmkit_event_close(done);
  if (s != SHMKIT_OK) return fail("set the done event", s);
  return strcmp(msg, "Message from the server process.") != 0;
}
