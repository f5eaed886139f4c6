/* Segments, views and file mappings from C, with a child process on the other side. */
#include "harness.h"

static const char MESSAGE[] = "Message from the server process.";

/* The child: opens the segment by name and checks what the parent wrote, then answers. */
static int child(const char *name) {
  shmkit_segment *seg;
  shmkit_view *view;
  CHECK(shmkit_segment_open(name, NULL, &seg));
  CHECK(shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view));
  char buf[sizeof MESSAGE];
  CHECK(shmkit_view_read(view, 0, buf, sizeof buf));
  EXPECT(memcmp(buf, MESSAGE, sizeof MESSAGE) == 0);
  CHECK(shmkit_view_write(view, 100, "ok", 3));
  shmkit_view_close(view);
  shmkit_segment_close(seg);
  return 0;
}

static void a_child_reads_what_the_parent_wrote(void) {
  char name[64];
  unique_name(name, sizeof name, "seg");
  shmkit_segment_options o = shmkit_segment_options_default();
  o.size = 4096;
  shmkit_segment *seg;
  CHECK(shmkit_segment_create(name, &o, &seg));
  EXPECT(shmkit_segment_is_creator(seg));
  EXPECT(shmkit_segment_len(seg) == 4096);
  EXPECT(strcmp(shmkit_segment_name(seg), name) == 0);
  shmkit_view *view;
  CHECK(shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view));
  EXPECT(shmkit_view_len(view) == 4096);
  memcpy(shmkit_view_data(view), MESSAGE, sizeof MESSAGE); /* in place, through the pointer */
  EXPECT_CHILD_OK(spawn_self("child", name));
  EXPECT(strcmp((const char *)shmkit_view_data(view) + 100, "ok") == 0);
  shmkit_view_close(view);
  shmkit_segment_close(seg);
  /* The creator removed the name. */
  EXPECT_STATUS(shmkit_segment_open(name, NULL, &seg), SHMKIT_NOT_FOUND);
  EXPECT_ERROR_MENTIONS(name);
}

static void bad_input_gets_a_clear_error_and_creates_nothing(void) {
  char name[64];
  unique_name(name, sizeof name, "bad");
  shmkit_segment *seg = NULL;
  shmkit_segment_options o = shmkit_segment_options_default();
  /* No size. */
  EXPECT_STATUS(shmkit_segment_create(name, NULL, &seg), SHMKIT_SIZE_INVALID);
  EXPECT(seg == NULL);
  o.size = 64;
  EXPECT_STATUS(shmkit_segment_create("a/b", &o, &seg), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_segment_create("", &o, &seg), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_segment_create(NULL, &o, &seg), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_segment_create("\xff\xfe", &o, &seg), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_segment_create(name, &o, NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_segment_open(name, NULL, &seg), SHMKIT_NOT_FOUND);
  EXPECT(seg == NULL);
  /* A view range outside the segment; reads and writes outside a view. */
  CHECK(shmkit_segment_create(name, &o, &seg));
  EXPECT_STATUS(shmkit_segment_create(name, &o, &seg), SHMKIT_ALREADY_EXISTS);
  shmkit_view *view = NULL;
  EXPECT_STATUS(shmkit_segment_map_range(seg, SHMKIT_READ_WRITE, 60, 8, &view), SHMKIT_SIZE_INVALID);
  EXPECT_STATUS(shmkit_segment_map(seg, 7, &view), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_segment_map_range(seg, SHMKIT_READ_ONLY, 8, 8, &view));
  char buf[16];
  EXPECT_STATUS(shmkit_view_read(view, 4, buf, 8), SHMKIT_SIZE_INVALID);
  EXPECT_STATUS(shmkit_view_write(view, 0, "x", 1), SHMKIT_ACCESS_MISMATCH);
  shmkit_view_close(view);
  /* A read-only open cannot map read-write. */
  shmkit_segment *ro;
  shmkit_segment_options ro_opts = shmkit_segment_options_default();
  ro_opts.read_only = true;
  CHECK(shmkit_segment_open(name, &ro_opts, &ro));
  EXPECT_STATUS(shmkit_segment_map(ro, SHMKIT_READ_WRITE, &view), SHMKIT_ACCESS_MISMATCH);
  shmkit_segment_close(ro);
  shmkit_segment_close(seg);
  /* NULL handles are errors (or ignored by close), never crashes. */
  EXPECT_STATUS(shmkit_segment_map(NULL, SHMKIT_READ_ONLY, &view), SHMKIT_INVALID_ARGUMENT);
  shmkit_segment_close(NULL);
  shmkit_view_close(NULL);
  EXPECT(strcmp(shmkit_status_name(SHMKIT_TIMEOUT), "SHMKIT_TIMEOUT") == 0);
}

static void a_file_mapping_is_flushed_to_its_file(void) {
  char path[128];
  char name[64];
  unique_name(name, sizeof name, "file");
#ifdef _WIN32
  snprintf(path, sizeof path, "%s.bin", name);
#else
  snprintf(path, sizeof path, "/tmp/%s.bin", name);
#endif
  shmkit_file_options o = shmkit_file_options_default();
  o.size = 8192;
  shmkit_file *f;
  CHECK(shmkit_file_create(path, &o, &f));
  EXPECT(shmkit_file_len(f) == 8192);
  shmkit_view *view;
  CHECK(shmkit_file_map(f, SHMKIT_READ_WRITE, &view));
  CHECK(shmkit_view_write(view, 4000, "flushed", 7));
  CHECK(shmkit_view_flush(view));
  CHECK(shmkit_view_flush_range(view, 4000, 7));
  shmkit_view_close(view);
  shmkit_file_close(f);
  FILE *fp = fopen(path, "rb");
  EXPECT(fp != NULL);
  char buf[8] = {0};
  fseek(fp, 4000, SEEK_SET);
  EXPECT(fread(buf, 1, 7, fp) == 7);
  fclose(fp);
  EXPECT(strcmp(buf, "flushed") == 0);
  EXPECT_STATUS(shmkit_file_create(path, &o, &f), SHMKIT_ALREADY_EXISTS);
  remove(path);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2 && strcmp(argv[1], "child") == 0) return child(argv[2]);
  a_child_reads_what_the_parent_wrote();
  bad_input_gets_a_clear_error_and_creates_nothing();
  a_file_mapping_is_flushed_to_its_file();
  return 0;
}
