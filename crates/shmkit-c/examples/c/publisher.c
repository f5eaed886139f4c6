/*
 * A C publisher of typed records: C structs on a shmkit broadcast, read by a Rust subscriber
 * (`broadcast::typed::<Reading>().tag("reading v1")`) or a Python one (bytes, unpacked with
 * struct "=QdII"), each in its own process.
 *
 *   publisher NAME [COUNT [SUBSCRIBERS]]
 *
 * Creates broadcast NAME recording the layout of `reading` (size, alignment, tag), waits (up
 * to 30 s) for SUBSCRIBERS subscribers (default 1), publishes COUNT records (default 1000)
 * written in place, under back-pressure so that every subscriber gets each one, and exits;
 * the subscribers then drain and see SHMKIT_DISCONNECTED. Exit status 0, or 1 with the error.
 * A subscriber receives from where it joined: counted as attached a moment before it fixes
 * that, a slow one may start a few records in (its first record's seq says where). 
 *
 * Build: cc -std=c11 publisher.c -I crates/shmkit-c/include -L target/release -lshmkit_c
 */
#include "shmkit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The record, as the Rust side declares it:
 *   #[repr(C)] struct Reading { seq: u64, value: f64, sensor: u32, flags: u32 }  */
typedef struct {
  uint64_t seq;
  double value;
  uint32_t sensor;
  uint32_t flags;
} reading;

/* Record i, which the subscribers check. */
static reading record(uint64_t i) {
  reading r = {i, (double)i * 0.5, (uint32_t)(i % 7), 0xC0FFEEu ^ (uint32_t)i};
  return r;
}

static int fail(const char *what, shmkit_status s) {
  fprintf(stderr, "publisher: %s: %s: %s\n", what, shmkit_status_name(s), shmkit_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s NAME [COUNT [SUBSCRIBERS]]\n", argv[0]);
    return 2;
  }
  uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000;
  size_t subscribers = argc > 3 ? strtoul(argv[3], NULL, 10) : 1;

  shmkit_layout layout = {sizeof(reading), _Alignof(reading), "reading v1"};
  shmkit_broadcast_options o = shmkit_broadcast_options_default();
  o.slots = 16;
  o.policy = SHMKIT_POLICY_BLOCK;
  o.layout = &layout; /* a typed broadcast: subscribers with another layout are refused */
  shmkit_publisher *pub;
  shmkit_status s = shmkit_broadcast_create_publisher(argv[1], &o, &pub);
  if (s != SHMKIT_OK) return fail("create", s);

  size_t joined = 0;
  s = shmkit_publisher_wait_for_subscribers(pub, subscribers, 30000000000LL, &joined);
  if (s != SHMKIT_OK) {
    shmkit_publisher_close(pub);
    return fail("wait for subscribers", s);
  }
  for (uint64_t i = 0; i < count; i++) {
    void *slot;
    s = shmkit_publisher_loan(pub, sizeof(reading), SHMKIT_FOREVER, &slot);
    if (s != SHMKIT_OK) {
      shmkit_publisher_close(pub);
      return fail("loan", s);
    }
    *(reading *)slot = record(i); /* written in place: the slot is 16-byte aligned */
    s = shmkit_publisher_commit(pub, sizeof(reading));
    if (s != SHMKIT_OK) {
      shmkit_publisher_close(pub);
      return fail("commit", s);
    }
  }
  printf("published %llu records to %zu subscribers\n", (unsigned long long)count, joined);
  shmkit_publisher_close(pub);
  return 0;
}
