/*
 * The C end of tests/cross.rs: a typed channel consumer of records a Rust producer sends.
 *
 *   consumer NAME COUNT
 *
 * First checks that a struct of another layout is refused (SHMKIT_LAYOUT_MISMATCH naming
 * both layouts), then opens channel NAME as a consumer of `reading` (tag "reading v1") and
 * checks COUNT records, alternately read in place and copied out, then SHMKIT_DISCONNECTED.
 */
#include "harness.h"

#include <stdint.h>

typedef struct {
  uint64_t seq;
  double value;
  uint32_t sensor;
  uint32_t flags;
} reading;

typedef struct {
  uint64_t seq;
  double value;
} reading_v0; /* an older, smaller record */

static void check(const reading *r, uint64_t i) {
  if (r->seq != i || r->value != (double)i * 0.5 || r->sensor != (uint32_t)(i % 7) ||
      r->flags != (0xC0FFEEu ^ (uint32_t)i))
    FAIL("record %llu: seq %llu value %f sensor %u flags %x", (unsigned long long)i,
         (unsigned long long)r->seq, r->value, r->sensor, r->flags);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc < 3) FAIL("usage: consumer NAME COUNT");
  uint64_t count = strtoull(argv[2], NULL, 10);

  shmkit_channel_options o = shmkit_channel_options_default();
  o.open_timeout_ns = 30000000000LL;
  shmkit_layout old = {sizeof(reading_v0), _Alignof(reading_v0), "reading v1"};
  o.layout = &old;
  shmkit_consumer *c = NULL;
  EXPECT_STATUS(shmkit_channel_open_consumer(argv[1], &o, &c), SHMKIT_LAYOUT_MISMATCH);
  EXPECT_ERROR_MENTIONS("24-byte messages, align 8, tag \"reading v1\"");
  EXPECT_ERROR_MENTIONS("16-byte messages, align 8, tag \"reading v1\"");

  shmkit_layout layout = {sizeof(reading), _Alignof(reading), "reading v1"};
  o.layout = &layout;
  CHECK(shmkit_channel_open_consumer(argv[1], &o, &c));
  for (uint64_t i = 0; i < count; i++) {
    if (i % 2) {
      reading r;
      size_t len;
      CHECK(shmkit_consumer_recv_into(c, &r, sizeof r, &len, SHMKIT_FOREVER));
      EXPECT(len == sizeof r);
      check(&r, i);
    } else {
      const void *data;
      size_t len;
      CHECK(shmkit_consumer_recv(c, SHMKIT_FOREVER, &data, &len));
      EXPECT(len == sizeof(reading));
      check(data, i);
      CHECK(shmkit_consumer_release(c));
    }
  }
  const void *data;
  size_t len;
  EXPECT_STATUS(shmkit_consumer_recv(c, 30000000000LL, &data, &len), SHMKIT_DISCONNECTED);
  shmkit_consumer_close(c);
  printf("received %llu records\n", (unsigned long long)count);
  return 0;
}
