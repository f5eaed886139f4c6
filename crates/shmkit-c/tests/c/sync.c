/* Mutex (with owner death), event and semaphore from C, across real processes; corrupt,
 * foreign and mistyped segments opened as sync objects. */
#include "harness.h"

#include <stdint.h>
#ifndef _WIN32
#include <pthread.h>
#endif

#define MS (1000000LL)
#define COUNT 400

static char *suffixed(char *buf, size_t len, const char *name, const char *suffix) {
  snprintf(buf, len, "%s-%s", name, suffix);
  return buf;
}

/* Adds 1 to the counter in `view` COUNT times under `m`, slowly enough that an unlocked
 * read-modify-write would lose increments. */
static void count_under_lock(shmkit_mutex *m, shmkit_view *view) {
  volatile uint64_t *counter = (volatile uint64_t *)shmkit_view_data(view);
  for (int i = 0; i < COUNT; i++) {
    CHECK(shmkit_mutex_lock(m, SHMKIT_FOREVER));
    uint64_t v = *counter;
    if (i % 50 == 0) sleep_ms(1);
    *counter = v + 1;
    CHECK(shmkit_mutex_unlock(m));
  }
}

/* child "counter NAME": the other incrementer. */
static int child_counter(const char *name) {
  char buf[96];
  shmkit_mutex *m;
  shmkit_segment *seg;
  shmkit_view *view;
  CHECK(shmkit_mutex_open(name, NULL, &m));
  CHECK(shmkit_segment_open(suffixed(buf, sizeof buf, name, "data"), NULL, &seg));
  CHECK(shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view));
  count_under_lock(m, view);
  shmkit_view_close(view);
  shmkit_segment_close(seg);
  shmkit_mutex_close(m);
  return 0;
}

/* child "holder NAME": locks, says so (event NAME-held), and waits to be killed. */
static int child_holder(const char *name) {
  char buf[96];
  shmkit_mutex *m;
  shmkit_event *held;
  CHECK(shmkit_mutex_open(name, NULL, &m));
  CHECK(shmkit_event_open(suffixed(buf, sizeof buf, name, "held"), NULL, &held));
  CHECK(shmkit_mutex_lock(m, SHMKIT_FOREVER));
  CHECK(shmkit_event_set(held));
  sleep_ms(60000);
  return 3; /* not killed */
}

/* child "holdwait NAME": locks, says so (NAME-held), unlocks when told (NAME-done). */
static int child_holdwait(const char *name) {
  char buf[96];
  shmkit_mutex *m;
  shmkit_event *held, *done;
  CHECK(shmkit_mutex_open(name, NULL, &m));
  CHECK(shmkit_event_open(suffixed(buf, sizeof buf, name, "held"), NULL, &held));
  CHECK(shmkit_event_open(suffixed(buf, sizeof buf, name, "done"), NULL, &done));
  CHECK(shmkit_mutex_lock(m, SHMKIT_FOREVER));
  CHECK(shmkit_event_set(held));
  CHECK(shmkit_event_wait(done, 10000 * MS));
  CHECK(shmkit_mutex_unlock(m));
  shmkit_event_close(done);
  shmkit_event_close(held);
  shmkit_mutex_close(m);
  return 0;
}

/* child "waiter NAME": waits for event NAME (forever), then sets NAME-back. */
static int child_waiter(const char *name) {
  char buf[96];
  shmkit_event *ev, *back;
  CHECK(shmkit_event_open(name, NULL, &ev));
  CHECK(shmkit_event_open(suffixed(buf, sizeof buf, name, "back"), NULL, &back));
  CHECK(shmkit_event_wait(ev, SHMKIT_FOREVER));
  CHECK(shmkit_event_set(back));
  shmkit_event_close(back);
  shmkit_event_close(ev);
  return 0;
}

/* child "poster NAME": posts the semaphore to its maximum (3), then finds it full. */
static int child_poster(const char *name) {
  shmkit_semaphore *sem;
  shmkit_semaphore_options o = shmkit_semaphore_options_default();
  o.open_timeout_ns = 5000 * MS; /* exercised: it exists already */
  CHECK(shmkit_semaphore_open(name, &o, &sem));
  EXPECT(shmkit_semaphore_max(sem) == 3);
  for (int i = 0; i < 3; i++) CHECK(shmkit_semaphore_post(sem));
  EXPECT_STATUS(shmkit_semaphore_post(sem), SHMKIT_FULL);
  EXPECT(shmkit_last_error_value() == 3);
  EXPECT_ERROR_MENTIONS(name);
  shmkit_semaphore_close(sem);
  return 0;
}

/* child "taker NAME": takes one permit, waiting up to 10 s. */
static int child_taker(const char *name) {
  shmkit_semaphore *sem;
  CHECK(shmkit_semaphore_open(name, NULL, &sem));
  CHECK(shmkit_semaphore_wait(sem, 10000 * MS));
  shmkit_semaphore_close(sem);
  return 0;
}

static void the_mutex_makes_two_processes_count_exactly(void) {
  char name[64], buf[96];
  unique_name(name, sizeof name, "mtx");
  shmkit_mutex *m;
  CHECK(shmkit_mutex_create(name, NULL, &m));
  EXPECT(shmkit_mutex_is_creator(m));
  EXPECT(strcmp(shmkit_mutex_name(m), name) == 0);
  shmkit_segment_options so = shmkit_segment_options_default();
  so.size = 64;
  shmkit_segment *seg;
  shmkit_view *view;
  CHECK(shmkit_segment_create(suffixed(buf, sizeof buf, name, "data"), &so, &seg));
  CHECK(shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view));
  child_t c = spawn_self("counter", name);
  count_under_lock(m, view);
  EXPECT_CHILD_OK(c);
  EXPECT(*(volatile uint64_t *)shmkit_view_data(view) == 2 * COUNT);
  shmkit_view_close(view);
  shmkit_segment_close(seg);
  shmkit_mutex_close(m);
  EXPECT_STATUS(shmkit_mutex_open(name, NULL, &m), SHMKIT_NOT_FOUND);
}

/* Spawns a holder of `name` and kills it once it holds the mutex. */
static void kill_a_holder(const char *name, shmkit_event *held) {
  child_t c = spawn_self("holder", name);
  CHECK(shmkit_event_wait(held, 20000 * MS));
  kill_child(c);
}

static void a_killed_holder_is_reported_and_repaired(void) {
  char name[64], buf[96];
  unique_name(name, sizeof name, "died");
  shmkit_mutex *m, *other;
  shmkit_event *held;
  CHECK(shmkit_mutex_create(name, NULL, &m));
  CHECK(shmkit_mutex_open(name, NULL, &other));
  CHECK(shmkit_event_create(suffixed(buf, sizeof buf, name, "held"), NULL, &held));

  /* Repaired: the next locker gets OWNER_DIED with the lock held, repairs, and all is well. */
  kill_a_holder(name, held);
  EXPECT_STATUS(shmkit_mutex_lock(m, 5000 * MS), SHMKIT_OWNER_DIED);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT(shmkit_mutex_is_held(m));
  EXPECT(shmkit_mutex_needs_repair(m));
  /* ... repair the protected state here ... */
  CHECK(shmkit_mutex_make_consistent(m));
  EXPECT(!shmkit_mutex_needs_repair(m));
  CHECK(shmkit_mutex_unlock(m));
  EXPECT(!shmkit_mutex_is_held(m));
  CHECK(shmkit_mutex_lock(m, SHMKIT_TRY));
  EXPECT(!shmkit_mutex_needs_repair(m));
  CHECK(shmkit_mutex_unlock(m));

  /* Passed on unrepaired: the next holder (another handle) is told in turn. */
  kill_a_holder(name, held);
  EXPECT_STATUS(shmkit_mutex_lock(m, 5000 * MS), SHMKIT_OWNER_DIED);
  CHECK(shmkit_mutex_unlock_unrepaired(m));
  EXPECT_STATUS(shmkit_mutex_lock(other, SHMKIT_TRY), SHMKIT_OWNER_DIED);
  CHECK(shmkit_mutex_make_consistent(other));
  CHECK(shmkit_mutex_unlock(other));
  CHECK(shmkit_mutex_lock(m, SHMKIT_TRY));
  CHECK(shmkit_mutex_unlock(m));

  /* Unlocked unrepaired: unrecoverable, for every handle and process. */
  kill_a_holder(name, held);
  EXPECT_STATUS(shmkit_mutex_lock(m, 5000 * MS), SHMKIT_OWNER_DIED);
  CHECK(shmkit_mutex_unlock(m));
  EXPECT_STATUS(shmkit_mutex_lock(m, SHMKIT_FOREVER), SHMKIT_UNRECOVERABLE);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT(!shmkit_mutex_is_held(m));
  EXPECT_STATUS(shmkit_mutex_lock(other, 100 * MS), SHMKIT_UNRECOVERABLE);
  EXPECT_STATUS(shmkit_mutex_unlock(m), SHMKIT_INVALID_ARGUMENT);

  shmkit_event_close(held);
  shmkit_mutex_close(other);
  shmkit_mutex_close(m);
}

static void closing_a_handle_after_an_owner_death_without_repair_is_an_unlock(void) {
  char name[64], buf[96];
  unique_name(name, sizeof name, "closedied");
  shmkit_mutex_options o = shmkit_mutex_options_default();
  o.keep = true; /* the name outlives the creator's handle, closed while held */
  shmkit_mutex *m, *again;
  shmkit_event *held;
  CHECK(shmkit_mutex_create(name, &o, &m));
  CHECK(shmkit_event_create(suffixed(buf, sizeof buf, name, "held"), NULL, &held));
  kill_a_holder(name, held);
  EXPECT_STATUS(shmkit_mutex_lock(m, 5000 * MS), SHMKIT_OWNER_DIED);
  /* Opened before the close: on Windows a name lives only as long as some handle to it. */
  CHECK(shmkit_mutex_open(name, NULL, &again));
  shmkit_mutex_close(m); /* held, not repaired: as dropping the guard, unrecoverable */
  EXPECT_STATUS(shmkit_mutex_lock(again, SHMKIT_TRY), SHMKIT_UNRECOVERABLE);
  shmkit_mutex_close(again);
  shmkit_event_close(held);
#ifndef _WIN32 /* on Windows the name went with the last handle */
  CHECK(shmkit_remove(name));
#endif
}

#ifndef _WIN32
/* Another thread than the locker: its unlock calls are refused, the lock stays held. */
static void *unlock_from_another_thread(void *arg) {
  shmkit_mutex *m = arg;
  EXPECT_STATUS(shmkit_mutex_unlock(m), SHMKIT_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("did not lock it");
  EXPECT_STATUS(shmkit_mutex_make_consistent(m), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_mutex_unlock_unrepaired(m), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_mutex_lock(m, SHMKIT_TRY), SHMKIT_INVALID_ARGUMENT);
  EXPECT(shmkit_mutex_is_held(m));
  EXPECT(!shmkit_mutex_needs_repair(m));
  return NULL;
}
#endif

static void waits_time_out_or_do_not_wait(void) {
  char name[64], buf[96];
  unique_name(name, sizeof name, "busy");
  shmkit_mutex *m;
  shmkit_event *held, *done;
  CHECK(shmkit_mutex_create(name, NULL, &m));
  CHECK(shmkit_event_create(suffixed(buf, sizeof buf, name, "held"), NULL, &held));
  CHECK(shmkit_event_create(suffixed(buf, sizeof buf, name, "done"), NULL, &done));
  child_t c = spawn_self("holdwait", name);
  CHECK(shmkit_event_wait(held, 20000 * MS));
  EXPECT_STATUS(shmkit_mutex_lock(m, SHMKIT_TRY), SHMKIT_WOULD_BLOCK);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT(!shmkit_mutex_is_held(m));
  EXPECT_STATUS(shmkit_mutex_lock(m, 50 * MS), SHMKIT_TIMEOUT);
  EXPECT_ERROR_MENTIONS(name);
  CHECK(shmkit_event_set(done));
  CHECK(shmkit_mutex_lock(m, 20000 * MS)); /* the child unlocks */
  EXPECT_CHILD_OK(c);
  /* Twice from one thread, through one handle or two. */
  EXPECT_STATUS(shmkit_mutex_lock(m, SHMKIT_FOREVER), SHMKIT_DEADLOCK);
  EXPECT(shmkit_mutex_is_held(m));
  shmkit_mutex *second;
  CHECK(shmkit_mutex_open(name, NULL, &second));
  EXPECT_STATUS(shmkit_mutex_lock(second, 1000 * MS), SHMKIT_DEADLOCK);
  EXPECT(!shmkit_mutex_is_held(second));
  shmkit_mutex_close(second);
#ifndef _WIN32
  /* Only the locking thread may end the lock. */
  pthread_t t;
  EXPECT(pthread_create(&t, NULL, unlock_from_another_thread, m) == 0);
  EXPECT(pthread_join(t, NULL) == 0);
#endif
  CHECK(shmkit_mutex_unlock(m));

  /* Events and semaphores with nothing to take. */
  EXPECT(!shmkit_event_is_set(done));
  EXPECT_STATUS(shmkit_event_wait(done, SHMKIT_TRY), SHMKIT_WOULD_BLOCK);
  EXPECT_STATUS(shmkit_event_wait(done, 30 * MS), SHMKIT_TIMEOUT);
  EXPECT_ERROR_MENTIONS(buf);
  shmkit_semaphore *sem;
  CHECK(shmkit_semaphore_create(suffixed(buf, sizeof buf, name, "sem"), NULL, &sem));
  EXPECT(shmkit_semaphore_value(sem) == 0);
  EXPECT(shmkit_semaphore_max(sem) == UINT32_MAX);
  EXPECT_STATUS(shmkit_semaphore_wait(sem, SHMKIT_TRY), SHMKIT_WOULD_BLOCK);
  EXPECT_STATUS(shmkit_semaphore_wait(sem, 30 * MS), SHMKIT_TIMEOUT);
  EXPECT_ERROR_MENTIONS(buf);
  shmkit_semaphore_close(sem);
  shmkit_event_close(done);
  shmkit_event_close(held);
  shmkit_mutex_close(m);
}

static void misuse_is_an_error_never_a_crash(void) {
  char name[64];
  unique_name(name, sizeof name, "misuse");
  shmkit_mutex *m = NULL;
  EXPECT_STATUS(shmkit_mutex_create(name, NULL, NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_mutex_create("a/b", NULL, &m), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_mutex_create(NULL, NULL, &m), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_mutex_open(name, NULL, &m), SHMKIT_NOT_FOUND);
  EXPECT(m == NULL);
  CHECK(shmkit_mutex_create(name, NULL, &m));
  EXPECT_STATUS(shmkit_mutex_create(name, NULL, &m), SHMKIT_ALREADY_EXISTS);
  EXPECT_STATUS(shmkit_mutex_unlock(m), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_mutex_make_consistent(m), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_mutex_unlock_unrepaired(m), SHMKIT_INVALID_ARGUMENT);
  EXPECT(!shmkit_mutex_needs_repair(m));
  CHECK(shmkit_mutex_lock(m, SHMKIT_TRY));
  CHECK(shmkit_mutex_make_consistent(m)); /* no owner death: a no-op */
  CHECK(shmkit_mutex_unlock_unrepaired(m)); /* no owner death: a plain unlock */
  shmkit_mutex *again;
  CHECK(shmkit_mutex_open_or_create(name, NULL, &again));
  EXPECT(!shmkit_mutex_is_creator(again));
  CHECK(shmkit_mutex_lock(again, SHMKIT_TRY));
  shmkit_mutex_close(again); /* held: closing unlocks */
  CHECK(shmkit_mutex_lock(m, SHMKIT_TRY));
  CHECK(shmkit_mutex_unlock(m));
  shmkit_mutex_close(m);
  EXPECT_STATUS(shmkit_mutex_lock(NULL, SHMKIT_TRY), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_mutex_unlock(NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT(!shmkit_mutex_is_held(NULL));
  EXPECT(strcmp(shmkit_mutex_name(NULL), "") == 0);
  shmkit_mutex_close(NULL);

  shmkit_event *ev = NULL;
  shmkit_event_options eo = shmkit_event_options_default();
  eo.reset = 7;
  EXPECT_STATUS(shmkit_event_create(name, &eo, &ev), SHMKIT_INVALID_ARGUMENT);
  EXPECT(ev == NULL);
  EXPECT_STATUS(shmkit_event_set(NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_event_wait(NULL, SHMKIT_TRY), SHMKIT_INVALID_ARGUMENT);
  EXPECT(shmkit_event_reset_kind(NULL) == -1);
  shmkit_event_close(NULL);

  shmkit_semaphore *sem = NULL;
  shmkit_semaphore_options so = shmkit_semaphore_options_default();
  so.max = 0;
  EXPECT_STATUS(shmkit_semaphore_create(name, &so, &sem), SHMKIT_SIZE_INVALID);
  so.max = 2;
  so.initial = 3;
  EXPECT_STATUS(shmkit_semaphore_create(name, &so, &sem), SHMKIT_SIZE_INVALID);
  EXPECT(sem == NULL);
  EXPECT_STATUS(shmkit_semaphore_post(NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT(shmkit_semaphore_value(NULL) == 0);
  shmkit_semaphore_close(NULL);
}

static void an_event_wakes_waiters_in_other_processes(void) {
  char name[64], buf[96];
  unique_name(name, sizeof name, "ev");
  shmkit_event *ev, *back;
  CHECK(shmkit_event_create(name, NULL, &ev));
  EXPECT(shmkit_event_reset_kind(ev) == SHMKIT_RESET_AUTO);
  CHECK(shmkit_event_create(suffixed(buf, sizeof buf, name, "back"), NULL, &back));
  /* Auto-reset: one set passes one waiter. */
  child_t c = spawn_self("waiter", name);
  sleep_ms(50); /* most likely asleep in the wait by now; either way it must pass */
  CHECK(shmkit_event_set(ev));
  CHECK(shmkit_event_wait(back, 20000 * MS));
  EXPECT_CHILD_OK(c);
  EXPECT(!shmkit_event_is_set(ev)); /* the waiter reset it */
  shmkit_event_close(ev);

  /* Manual reset: one set passes every waiter, and the event stays set. */
  unique_name(name, sizeof name, "evm");
  shmkit_event_close(back);
  shmkit_event_options o = shmkit_event_options_default();
  o.reset = SHMKIT_RESET_MANUAL;
  CHECK(shmkit_event_create(name, &o, &ev));
  CHECK(shmkit_event_create(suffixed(buf, sizeof buf, name, "back"), NULL, &back));
  child_t a = spawn_self("waiter", name);
  child_t b = spawn_self("waiter", name);
  sleep_ms(50);
  CHECK(shmkit_event_set(ev));
  EXPECT_CHILD_OK(a);
  EXPECT_CHILD_OK(b);
  EXPECT(shmkit_event_is_set(ev));
  CHECK(shmkit_event_wait(ev, SHMKIT_TRY));
  EXPECT(shmkit_event_is_set(ev));
  CHECK(shmkit_event_reset(ev));
  EXPECT(!shmkit_event_is_set(ev));
  /* An opener sees the creator's reset kind whatever its options say. */
  shmkit_event *opened;
  CHECK(shmkit_event_open(name, NULL, &opened));
  EXPECT(shmkit_event_reset_kind(opened) == SHMKIT_RESET_MANUAL);
  EXPECT(!shmkit_event_is_creator(opened));
  shmkit_event_close(opened);
  shmkit_event_close(back);
  shmkit_event_close(ev);
}

static void semaphore_permits_cross_processes(void) {
  char name[64];
  unique_name(name, sizeof name, "sem");
  shmkit_semaphore_options o = shmkit_semaphore_options_default();
  o.max = 3;
  shmkit_semaphore *sem;
  CHECK(shmkit_semaphore_create(name, &o, &sem));
  EXPECT(strcmp(shmkit_semaphore_name(sem), name) == 0);
  /* A child fills it (and finds it full); this process takes the permits. */
  child_t c = spawn_self("poster", name);
  EXPECT_CHILD_OK(c);
  EXPECT(shmkit_semaphore_value(sem) == 3);
  for (int i = 0; i < 3; i++) CHECK(shmkit_semaphore_wait(sem, SHMKIT_TRY));
  EXPECT(shmkit_semaphore_value(sem) == 0);
  EXPECT_STATUS(shmkit_semaphore_wait(sem, SHMKIT_TRY), SHMKIT_WOULD_BLOCK);
  /* A child waits for the permit this process posts. */
  c = spawn_self("taker", name);
  sleep_ms(50);
  CHECK(shmkit_semaphore_post(sem));
  EXPECT_CHILD_OK(c);
  EXPECT(shmkit_semaphore_value(sem) == 0);
  shmkit_semaphore_close(sem);
}

/* Every sync kind's open of `name` must fail with `want` (no crash, a typed error). */
static void every_kind_refuses(const char *name, shmkit_status want) {
  shmkit_mutex *m = NULL;
  shmkit_event *ev = NULL;
  shmkit_semaphore *sem = NULL;
  EXPECT_STATUS(shmkit_mutex_open(name, NULL, &m), want);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT_STATUS(shmkit_event_open(name, NULL, &ev), want);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT_STATUS(shmkit_semaphore_open(name, NULL, &sem), want);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT(m == NULL && ev == NULL && sem == NULL);
}

static void corrupt_foreign_and_mistyped_segments_are_typed_errors(void) {
  char name[64];
  shmkit_segment_options so = shmkit_segment_options_default();
  shmkit_segment *seg;
  shmkit_view *view;

  /* Garbage bytes. */
  unique_name(name, sizeof name, "garbage");
  so.size = 4096;
  CHECK(shmkit_segment_create(name, &so, &seg));
  CHECK(shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view));
  memset(shmkit_view_data(view), 0xa5, 4096);
  every_kind_refuses(name, SHMKIT_CORRUPT);
  /* A foreign format's bytes. */
  memcpy(shmkit_view_data(view), "GIF89a not a shmkit object", 26);
  every_kind_refuses(name, SHMKIT_CORRUPT);
  shmkit_view_close(view);
  shmkit_segment_close(seg);

  /* Too small to hold a header. */
  unique_name(name, sizeof name, "small");
  so.size = 40;
  CHECK(shmkit_segment_create(name, &so, &seg));
  every_kind_refuses(name, SHMKIT_CORRUPT);
  shmkit_segment_close(seg);

  /* All zeros: a creator that never finished (refused after a short wait). */
  unique_name(name, sizeof name, "zeros");
  so.size = 4096;
  CHECK(shmkit_segment_create(name, &so, &seg));
  shmkit_mutex *m = NULL;
  EXPECT_STATUS(shmkit_mutex_open(name, NULL, &m), SHMKIT_CORRUPT);
  shmkit_segment_close(seg);

  /* Plausible headers with a wrong field: the object's own segment, rewritten raw. The header
   * is magic (8 bytes), version (u32 at 8), kind (u32 at 12), total length (u64 at 16),
   * creator pid, ready, then the kind's parameters (u64s from 32). */
  unique_name(name, sizeof name, "badev");
  shmkit_event *ev = NULL;
  CHECK(shmkit_event_create(name, NULL, &ev));
  CHECK(shmkit_segment_open(name, NULL, &seg));
  CHECK(shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view));
  uint64_t reset_kind = 7; /* neither auto (0) nor manual (1) */
  CHECK(shmkit_view_write(view, 32, &reset_kind, 8));
  shmkit_event *bad = NULL;
  EXPECT_STATUS(shmkit_event_open(name, NULL, &bad), SHMKIT_CORRUPT);
  EXPECT_ERROR_MENTIONS(name);
  reset_kind = 0;
  CHECK(shmkit_view_write(view, 32, &reset_kind, 8));
  uint32_t version, future = 99;
  CHECK(shmkit_view_read(view, 8, &version, 4));
  CHECK(shmkit_view_write(view, 8, &future, 4));
  EXPECT_STATUS(shmkit_event_open(name, NULL, &bad), SHMKIT_VERSION_MISMATCH);
  EXPECT(shmkit_last_error_value() == 99);
  CHECK(shmkit_view_write(view, 8, &version, 4));
  uint32_t kind, unknown_kind = 0x7777;
  CHECK(shmkit_view_read(view, 12, &kind, 4));
  CHECK(shmkit_view_write(view, 12, &unknown_kind, 4));
  shmkit_status s = shmkit_event_open(name, NULL, &bad);
  if (s != SHMKIT_KIND_MISMATCH && s != SHMKIT_CORRUPT)
    FAIL("an unknown kind number -> %s (%s)", shmkit_status_name(s), shmkit_last_error());
  CHECK(shmkit_view_write(view, 12, &kind, 4));
  CHECK(shmkit_event_open(name, NULL, &bad)); /* restored: fine again */
  shmkit_event_close(bad);
  bad = NULL;
  /* The valid header, copied into a segment too short for what it describes. */
  unsigned char header[64];
  CHECK(shmkit_view_read(view, 0, header, sizeof header));
  shmkit_view_close(view);
  shmkit_segment_close(seg);
  char tname[64];
  unique_name(tname, sizeof tname, "truncated");
  so.size = 100;
  CHECK(shmkit_segment_create(tname, &so, &seg));
  CHECK(shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view));
  CHECK(shmkit_view_write(view, 0, header, sizeof header));
#ifdef _WIN32
  /* Windows opens the event's kernel waker (NAME.wake) first, which a forged segment lacks. */
  s = shmkit_event_open(tname, NULL, &bad);
  if (s != SHMKIT_CORRUPT && s != SHMKIT_NOT_FOUND)
    FAIL("a truncated event -> %s (%s)", shmkit_status_name(s), shmkit_last_error());
#else
  EXPECT_STATUS(shmkit_event_open(tname, NULL, &bad), SHMKIT_CORRUPT);
#endif
  EXPECT_ERROR_MENTIONS(tname);
  EXPECT(bad == NULL);
  shmkit_view_close(view);
  shmkit_segment_close(seg);

  unique_name(name, sizeof name, "badsem");
  shmkit_semaphore *sem = NULL, *badsem = NULL;
  CHECK(shmkit_semaphore_create(name, NULL, &sem));
  CHECK(shmkit_segment_open(name, NULL, &seg));
  CHECK(shmkit_segment_map(seg, SHMKIT_READ_WRITE, &view));
  uint64_t max = 0; /* a semaphore's maximum, 0: impossible */
  CHECK(shmkit_view_write(view, 32, &max, 8));
  EXPECT_STATUS(shmkit_semaphore_open(name, NULL, &badsem), SHMKIT_CORRUPT);
  max = (uint64_t)1 << 40; /* beyond 32 bits */
  CHECK(shmkit_view_write(view, 32, &max, 8));
  EXPECT_STATUS(shmkit_semaphore_open(name, NULL, &badsem), SHMKIT_CORRUPT);
  EXPECT(badsem == NULL);
  shmkit_view_close(view);
  shmkit_segment_close(seg);

  /* One kind opened as another. */
  shmkit_mutex *mtx = NULL;
  EXPECT_STATUS(shmkit_mutex_open(name, NULL, &mtx), SHMKIT_KIND_MISMATCH);
  EXPECT_ERROR_MENTIONS("semaphore");
  EXPECT_STATUS(shmkit_event_open(name, NULL, &bad), SHMKIT_KIND_MISMATCH);
  char mname[64];
  unique_name(mname, sizeof mname, "kind");
  CHECK(shmkit_mutex_create(mname, NULL, &mtx));
  EXPECT_STATUS(shmkit_event_open(mname, NULL, &bad), SHMKIT_KIND_MISMATCH);
  EXPECT_ERROR_MENTIONS("mutex");
  EXPECT_STATUS(shmkit_semaphore_open(mname, NULL, &badsem), SHMKIT_KIND_MISMATCH);
  EXPECT_STATUS(shmkit_mutex_open(shmkit_event_name(ev), NULL, &m), SHMKIT_KIND_MISMATCH);
  EXPECT(m == NULL && bad == NULL && badsem == NULL);
  shmkit_mutex_close(mtx);
  shmkit_semaphore_close(sem);
  shmkit_event_close(ev);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2) {
    if (strcmp(argv[1], "counter") == 0) return child_counter(argv[2]);
    if (strcmp(argv[1], "holder") == 0) return child_holder(argv[2]);
    if (strcmp(argv[1], "holdwait") == 0) return child_holdwait(argv[2]);
    if (strcmp(argv[1], "waiter") == 0) return child_waiter(argv[2]);
    if (strcmp(argv[1], "poster") == 0) return child_poster(argv[2]);
    if (strcmp(argv[1], "taker") == 0) return child_taker(argv[2]);
    return 2;
  }
  misuse_is_an_error_never_a_crash();
  the_mutex_makes_two_processes_count_exactly();
  a_killed_holder_is_reported_and_repaired();
  closing_a_handle_after_an_owner_death_without_repair_is_an_unlock();
  waits_time_out_or_do_not_wait();
  an_event_wakes_waiters_in_other_processes();
  semaphore_permits_cross_processes();
  corrupt_foreign_and_mistyped_segments_are_typed_errors();
  return 0;
}
