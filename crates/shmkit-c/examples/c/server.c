/*
 * The classic Win32 shared memory server (CreateFileMapping + MapViewOfFile, "Creating Named
 * Shared Memory" in Microsoft's docs), on shmkit: it runs unchanged on Linux, macOS and
 * Windows, and the client waits for the message instead of racing the server.
 *
 *   server [NAME]    (default MySharedMem; start the client with the same NAME)
 *
 * The server creates segment NAME and writes the message into it in place, then sets event
 * NAME-ready. The original keeps the mapping alive until a key is pressed; this one waits
 * (up to 30 s) for the client to set NAME-done, then closes: the creator's close removes the
 * names.
 */
#include <shmkit.h>

#include <stdio.h>
#include <string.h>

#define BUF_SIZE 256
static const char MESSAGE[] = "Message from the server process.";

static int fail(const char *what, shmkit_status s) {
  fprintf(stderr, "server: %s: %s (%s)\n", what, shmkit_last_error(), shmkit_status_name(s));
  return 1;
}

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "MySharedMem";
  char ready_name[200], done_name[200];
  snprintf(ready_name, sizeof ready_name, "%s-ready", name);
  snprintf(done_name, sizeof done_name, "%s-done", name);

  /* CreateFileMapping(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, BUF_SIZE, name) */
  shmkit_segment_options so = shmkit_segment_options_default();
  so.size = BUF_SIZE;
  shmkit_segment *seg;
  shmkit_status s = shmkit_segment_create(name, &so, &seg);
  if (s != SHMKIT_OK) return fail("create the segment", s);

  /* MapViewOfFile(hMapFile, FILE_MAP_ALL_ACCESS, 0, 0, BUF_SIZE) */
  shmkit_view *view;
  s = shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view);
  if (s != SHMKIT_OK) return fail("map the segment", s);

  /* CopyMemory((PVOID)pBuf, szMsg, sizeof szMsg): in place, through the pointer. */
  memcpy(shmkit_view_data(view), MESSAGE, sizeof MESSAGE);

  /* What the original lacks: tell the client the message is there, and wait for it to read. */
  shmkit_event_options eo = shmkit_event_options_default();
  eo.reset = SHMKIT_RESET_MANUAL;
  shmkit_event *done, *ready;
  s = shmkit_event_create(done_name, &eo, &done);
  if (s != SHMKIT_OK) return fail("create the done event", s);
  s = shmkit_event_create(ready_name, &eo, &ready);
  if (s != SHMKIT_OK) return fail("create the ready event", s);
  s = shmkit_event_set(ready);
  if (s != SHMKIT_OK) return fail("set the ready event", s);
  printf("server: wrote \"%s\" to %s; waiting for the client\n", MESSAGE, name);
  fflush(stdout);

  s = shmkit_event_wait(done, 30 * 1000000000LL);
  if (s != SHMKIT_OK) return fail("wait for the client", s);
  printf("server: the client has read it\n");

  /* UnmapViewOfFile + CloseHandle; the creator's close removes the names. */
  shmkit_event_close(ready);
  shmkit_event_close(done);
  shmkit_view_close(view);
  shmkit_segment_close(seg);
  return 0;
}
