/* A program built against an installed shmkit: creates a segment, writes, reads back. */
#include <shmkit.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

int main(void) {
  shmkit_segment_options o = shmkit_segment_options_default();
  o.size = 4096;
  char name[64];
  snprintf(name, sizeof name, "consumer-c-%ld", (long)clock());
  shmkit_segment *seg;
  shmkit_view *view;
  if (shmkit_segment_create(name, &o, &seg) != SHMKIT_OK ||
      shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view) != SHMKIT_OK) {
    fprintf(stderr, "shmkit: %s\n", shmkit_last_error());
    return 1;
  }
  strcpy(shmkit_view_data(view), "hello from C");
  char buf[16] = {0};
  shmkit_view_read(view, 0, buf, 12);
  shmkit_view_close(view);
  shmkit_segment_close(seg);
  printf("%s\n", buf);
  return strcmp(buf, "hello from C") != 0;
}
