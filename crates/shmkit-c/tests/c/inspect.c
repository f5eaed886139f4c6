/* inspect, list, remove and remove_unused from C: the JSON `shmkit info --json` prints. */
#include "harness.h"

/* The JSON must contain `needle`. */
#define EXPECT_JSON_HAS(json, needle)                                                        \
  do {                                                                                       \
    if (!strstr((json), (needle))) FAIL("%s does not contain %s", (json), (needle));         \
  } while (0)

/* `"name":"<name>"`, as the JSON has it. */
static const char *name_field(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "\"name\":\"%s\"", name);
  return buf;
}

/* child "see NAME": another process inspects the parent's semaphore. */
static int child_see(const char *name) {
  char *json = NULL;
  CHECK(shmkit_inspect(name, &json));
  EXPECT_JSON_HAS(json, "\"kind\":\"semaphore\"");
  EXPECT_JSON_HAS(json, "\"count\":2");
#ifdef __linux__
  EXPECT_JSON_HAS(json, "\"creator_alive\":true");
#endif
  shmkit_string_free(json);
  return 0;
}

static void inspect_tells_each_kind(const char *mutex, const char *event, const char *sem,
                                    const char *raw) {
  char buf[128];
  char *json = NULL;
  CHECK(shmkit_inspect(mutex, &json));
  EXPECT_JSON_HAS(json, name_field(buf, sizeof buf, mutex));
  EXPECT_JSON_HAS(json, "\"kind\":\"mutex\"");
  EXPECT_JSON_HAS(json, "\"state\":\"consistent\"");
#ifdef __linux__
  EXPECT_JSON_HAS(json, "\"in_use\":true");
  EXPECT_JSON_HAS(json, "\"mode\":\"600\"");
#endif
  shmkit_string_free(json);

  CHECK(shmkit_inspect(event, &json));
  EXPECT_JSON_HAS(json, "\"kind\":\"event\"");
  EXPECT_JSON_HAS(json, "\"manual_reset\":true");
  EXPECT_JSON_HAS(json, "\"set\":true");
  shmkit_string_free(json);

  CHECK(shmkit_inspect(sem, &json));
  EXPECT_JSON_HAS(json, "\"kind\":\"semaphore\"");
  EXPECT_JSON_HAS(json, "\"count\":2");
  EXPECT_JSON_HAS(json, "\"max\":5");
  shmkit_string_free(json);
  EXPECT_CHILD_OK(spawn_self("see", sem));

  CHECK(shmkit_inspect(raw, &json));
  EXPECT_JSON_HAS(json, "\"kind\":\"raw\"");
  EXPECT_JSON_HAS(json, "\"details\":null");
  EXPECT_JSON_HAS(json, "\"layout_version\":null");
  shmkit_string_free(json);
}

static void list_has_them_all(const char *mutex, const char *event, const char *sem,
                              const char *raw) {
  char buf[128];
  char *json = NULL;
#ifdef __APPLE__
  EXPECT_STATUS(shmkit_list(false, &json), SHMKIT_UNSUPPORTED);
  (void)mutex, (void)event, (void)sem, (void)raw, (void)buf;
#else
  CHECK(shmkit_list(false, &json));
  EXPECT(json[0] == '[');
  EXPECT_JSON_HAS(json, name_field(buf, sizeof buf, mutex));
  EXPECT_JSON_HAS(json, name_field(buf, sizeof buf, event));
  EXPECT_JSON_HAS(json, name_field(buf, sizeof buf, sem));
  EXPECT_JSON_HAS(json, name_field(buf, sizeof buf, raw));
  EXPECT_JSON_HAS(json, "\"kind\":\"mutex\"");
  shmkit_string_free(json);
  CHECK(shmkit_list(true, &json));
  EXPECT_JSON_HAS(json, name_field(buf, sizeof buf, mutex));
  shmkit_string_free(json);
#endif
}

static void remove_and_remove_unused(const char *mutex, const char *raw) {
  shmkit_removal r = SHMKIT_REMOVAL_REMOVED;
#ifdef __APPLE__
  EXPECT_STATUS(shmkit_remove_unused(mutex, &r), SHMKIT_UNSUPPORTED);
  (void)raw;
#else
  /* In use (this process has it open): left alone. */
  CHECK(shmkit_remove_unused(mutex, &r));
  EXPECT(r == SHMKIT_REMOVAL_IN_USE);
  CHECK(shmkit_remove_unused(raw, &r));
  EXPECT(r == SHMKIT_REMOVAL_NOT_SHMKIT);
#endif
#ifdef __linux__
  /* A kept object nobody has open any more: removed. */
  char name[64];
  unique_name(name, sizeof name, "kept");
  shmkit_event_options o = shmkit_event_options_default();
  o.keep = true;
  shmkit_event *ev;
  CHECK(shmkit_event_create(name, &o, &ev));
  shmkit_event_close(ev);
  CHECK(shmkit_remove_unused(name, &r));
  EXPECT(r == SHMKIT_REMOVAL_REMOVED);
  char *json = NULL;
  EXPECT_STATUS(shmkit_inspect(name, &json), SHMKIT_NOT_FOUND);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT(json == NULL);
  EXPECT_STATUS(shmkit_remove_unused(name, &r), SHMKIT_NOT_FOUND);

  /* remove takes any name away, in use or not; the handle keeps working. */
  unique_name(name, sizeof name, "rm");
  shmkit_semaphore *sem;
  CHECK(shmkit_semaphore_create(name, NULL, &sem));
  CHECK(shmkit_remove(name));
  EXPECT_STATUS(shmkit_inspect(name, &json), SHMKIT_NOT_FOUND);
  EXPECT_STATUS(shmkit_remove(name), SHMKIT_NOT_FOUND);
  CHECK(shmkit_semaphore_post(sem));
  EXPECT(shmkit_semaphore_value(sem) == 1);
  shmkit_semaphore_close(sem);
#endif
}

static void bad_input_is_an_error(void) {
  char *json = NULL;
  shmkit_removal r;
  EXPECT_STATUS(shmkit_inspect(NULL, &json), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_inspect("x", NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_inspect("a/b", &json), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_inspect("c-inspect-surely-missing", &json), SHMKIT_NOT_FOUND);
  EXPECT(json == NULL);
  EXPECT_STATUS(shmkit_list(false, NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_remove(NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_remove("a/b"), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_remove_unused("x", NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_remove_unused(NULL, &r), SHMKIT_INVALID_ARGUMENT);
  shmkit_string_free(NULL);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2 && strcmp(argv[1], "see") == 0) return child_see(argv[2]);

  char mutex[64], event[64], sem[64], raw[64];
  unique_name(mutex, sizeof mutex, "imtx");
  unique_name(event, sizeof event, "iev");
  unique_name(sem, sizeof sem, "isem");
  unique_name(raw, sizeof raw, "iraw");
  shmkit_mutex *m;
  CHECK(shmkit_mutex_create(mutex, NULL, &m));
  shmkit_event_options eo = shmkit_event_options_default();
  eo.reset = SHMKIT_RESET_MANUAL;
  shmkit_event *ev;
  CHECK(shmkit_event_create(event, &eo, &ev));
  CHECK(shmkit_event_set(ev));
  shmkit_semaphore_options so = shmkit_semaphore_options_default();
  so.initial = 2;
  so.max = 5;
  shmkit_semaphore *s;
  CHECK(shmkit_semaphore_create(sem, &so, &s));
  shmkit_segment_options ro = shmkit_segment_options_default();
  ro.size = 1000;
  shmkit_segment *seg;
  CHECK(shmkit_segment_create(raw, &ro, &seg));

  inspect_tells_each_kind(mutex, event, sem, raw);
  list_has_them_all(mutex, event, sem, raw);
  remove_and_remove_unused(mutex, raw);
  bad_input_is_an_error();

  shmkit_segment_close(seg);
  shmkit_semaphore_close(s);
  shmkit_event_close(ev);
  shmkit_mutex_close(m);
  return 0;
}
