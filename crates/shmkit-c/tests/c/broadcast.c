/* Broadcast from C: a publisher to two child subscribers under both policies, the lagged
 * count, typed broadcasts (a C struct's layout), misuse and bad input. */
#include "harness.h"

#include <stdint.h>

#define N 5000
#define SECOND 1000000000LL

static shmkit_broadcast_options opts_waiting(void) {
  shmkit_broadcast_options o = shmkit_broadcast_options_default();
  o.open_timeout_ns = 10 * SECOND;
  return o;
}

/* Message i: i, then (i % 50) u64s of i + k. */
static size_t message_len(uint64_t i) { return 8 * (1 + (size_t)(i % 50)); }

static void fill(void *p, uint64_t i) {
  uint64_t *w = p;
  w[0] = i;
  for (uint64_t k = 0; k < i % 50; k++) w[1 + k] = i + k;
}

/* The message's number, after checking it is whole. */
static uint64_t check_message(const void *p, size_t len) {
  uint64_t i, w;
  memcpy(&i, p, 8);
  if (len != message_len(i)) FAIL("message %llu: %zu bytes", (unsigned long long)i, len);
  for (uint64_t k = 0; k < i % 50; k++) {
    memcpy(&w, (const char *)p + 8 * (1 + k), 8);
    if (w != i + k) FAIL("message %llu word %llu", (unsigned long long)i, (unsigned long long)k);
  }
  return i;
}

/* A child subscriber: receives until the publisher is gone, alternately in place and by
 * copy. It starts where it joined (shmkit_subscriber_next_seq): the publisher counts it as
 * attached a moment before it fixes that, so a slow child may start after message 0. Under
 * back-pressure it must then see every message in order; under overwrite, what it receives
 * and what SHMKIT_LAGGED says it lost must account for every message from its start. */
static int child_subscriber(const char *role, const char *name) {
  int overwrite = strcmp(role, "sub-overwrite") == 0;
  shmkit_broadcast_options o = opts_waiting();
  shmkit_subscriber *s;
  CHECK(shmkit_broadcast_open_subscriber(name, &o, &s));
  uint64_t start = shmkit_subscriber_next_seq(s), received = 0, missed = 0, next = start;
  uint64_t buf[64];
  for (uint64_t n = 0;; n++) {
    const void *data;
    size_t len;
    shmkit_status st = n % 2 ? shmkit_subscriber_recv(s, 10 * SECOND, &data, &len)
                             : shmkit_subscriber_recv_into(s, buf, sizeof buf, &len, 10 * SECOND);
    if (st == SHMKIT_DISCONNECTED) break;
    if (st == SHMKIT_LAGGED && overwrite) {
      EXPECT(shmkit_last_error_value() > 0);
      missed += shmkit_last_error_value();
      next += shmkit_last_error_value();
      continue;
    }
    if (st != SHMKIT_OK) FAIL("recv -> %s: %s", shmkit_status_name(st), shmkit_last_error());
    uint64_t i = check_message(n % 2 ? data : (const void *)buf, len);
    if (i != next)
      FAIL("%s: message %llu where %llu was due (%s)", role, (unsigned long long)i,
           (unsigned long long)next, n % 2 ? "in place" : "copied");
    next++;
    received++;
    if (n % 4 == 1) CHECK(shmkit_subscriber_release(s));
  }
  if (start + received + missed != N)
    FAIL("started at %llu, received %llu, missed %llu: not %d", (unsigned long long)start,
         (unsigned long long)received, (unsigned long long)missed, N);
  if (!overwrite && missed) FAIL("lost %llu under back-pressure", (unsigned long long)missed);
  shmkit_subscriber_close(s);
  return 0;
}

static void publish_to_two_children(int32_t policy) {
  char name[64];
  unique_name(name, sizeof name, "bcast");
  shmkit_broadcast_options o = shmkit_broadcast_options_default();
  o.slots = 8;
  o.slot_size = 512;
  o.max_subscribers = 4;
  o.policy = policy;
  shmkit_publisher *p;
  CHECK(shmkit_broadcast_create_publisher(name, &o, &p));
  EXPECT(shmkit_publisher_max_message_len(p) == 512);
  const char *role = policy == SHMKIT_POLICY_OVERWRITE ? "sub-overwrite" : "sub-block";
  child_t a = spawn_self(role, name), b = spawn_self(role, name);
  size_t count = 0;
  CHECK(shmkit_publisher_wait_for_subscribers(p, 2, 30 * SECOND, &count));
  EXPECT(count == 2 && shmkit_publisher_subscribers(p) == 2);
  uint64_t msg[64];
  for (uint64_t i = 0; i < N; i++) {
    if (i % 2) {
      void *data;
      CHECK(shmkit_publisher_loan(p, 512, SHMKIT_FOREVER, &data));
      EXPECT(((uintptr_t)data & 15) == 0);
      EXPECT(shmkit_publisher_published(p) == i);
      fill(data, i);
      CHECK(shmkit_publisher_commit(p, message_len(i)));
    } else {
      fill(msg, i);
      CHECK(shmkit_publisher_send(p, msg, message_len(i), SHMKIT_FOREVER));
    }
  }
  EXPECT(shmkit_publisher_published(p) == N);
  shmkit_publisher_close(p); /* the subscribers drain, then see SHMKIT_DISCONNECTED */
  EXPECT_CHILD_OK(a);
  EXPECT_CHILD_OK(b);
}

static void a_lagging_subscriber_is_told_how_many_it_lost(void) {
  char name[64];
  unique_name(name, sizeof name, "lag");
  shmkit_broadcast_options o = shmkit_broadcast_options_default();
  o.slots = 4;
  o.slot_size = 8;
  o.policy = SHMKIT_POLICY_OVERWRITE;
  shmkit_publisher *p;
  CHECK(shmkit_broadcast_create_publisher(name, &o, &p));
  shmkit_subscriber *s;
  CHECK(shmkit_broadcast_open_subscriber(name, NULL, &s));
  EXPECT(shmkit_subscriber_next_seq(s) == 0);
  for (uint64_t i = 0; i < 10; i++) CHECK(shmkit_publisher_send(p, &i, 8, SHMKIT_TRY));
  const void *data;
  size_t len;
  EXPECT_STATUS(shmkit_subscriber_recv(s, SHMKIT_TRY, &data, &len), SHMKIT_LAGGED);
  EXPECT(shmkit_last_error_value() == 6);
  EXPECT_ERROR_MENTIONS(name);
  for (uint64_t i = 6; i < 10; i++) {
    EXPECT(shmkit_subscriber_next_seq(s) == i);
    CHECK(shmkit_subscriber_recv(s, SHMKIT_TRY, &data, &len));
    EXPECT(len == 8 && memcmp(data, &i, 8) == 0);
    EXPECT(shmkit_subscriber_next_seq(s) == i + 1);
  }
  EXPECT_STATUS(shmkit_subscriber_recv(s, SHMKIT_TRY, &data, &len), SHMKIT_WOULD_BLOCK);
  /* A held message is never overwritten: the publisher skips its slot. */
  uint64_t v = 100;
  CHECK(shmkit_publisher_send(p, &v, 8, SHMKIT_TRY));
  CHECK(shmkit_subscriber_recv(s, SHMKIT_TRY, &data, &len));
  for (uint64_t i = 101; i < 110; i++) CHECK(shmkit_publisher_send(p, &i, 8, SHMKIT_TRY));
  EXPECT(memcmp(data, &v, 8) == 0);
  CHECK(shmkit_subscriber_release(s));
  shmkit_subscriber_close(s);
  shmkit_publisher_close(p);
}

typedef struct {
  uint64_t seq;
  double price;
  uint32_t venue;
  uint32_t check;
} tick; /* 24 bytes, 8-aligned */

static void typed_broadcasts_check_the_layout(void) {
  char name[64];
  unique_name(name, sizeof name, "tbc");
  shmkit_layout tick_layout = {sizeof(tick), _Alignof(tick), "tick v1"};
  shmkit_broadcast_options o = shmkit_broadcast_options_default();
  o.layout = &tick_layout;
  shmkit_publisher *p;
  CHECK(shmkit_broadcast_create_publisher(name, &o, &p));
  EXPECT(shmkit_publisher_max_message_len(p) == sizeof(tick)); /* one value by default */
  shmkit_subscriber *s;
  CHECK(shmkit_broadcast_open_subscriber(name, &o, &s));
  shmkit_subscriber *bytes;
  CHECK(shmkit_broadcast_open_subscriber(name, NULL, &bytes)); /* bytes of any broadcast */

  shmkit_layout other = tick_layout;
  other.tag = "tick v2";
  shmkit_broadcast_options oo = shmkit_broadcast_options_default();
  oo.layout = &other;
  shmkit_subscriber *s2 = NULL;
  EXPECT_STATUS(shmkit_broadcast_open_subscriber(name, &oo, &s2), SHMKIT_LAYOUT_MISMATCH);
  EXPECT(s2 == NULL);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT_ERROR_MENTIONS("24-byte messages, align 8, tag \"tick v1\"");
  EXPECT_ERROR_MENTIONS("tag \"tick v2\"");
  other.tag = "tick v1";
  other.size = 16;
  EXPECT_STATUS(shmkit_broadcast_open_subscriber(name, &oo, &s2), SHMKIT_LAYOUT_MISMATCH);
  EXPECT_ERROR_MENTIONS("16-byte messages");
  other.size = 32;
  other.align = 32;
  EXPECT_STATUS(shmkit_broadcast_open_subscriber(name, &oo, &s2), SHMKIT_INVALID_ARGUMENT);

  void *data;
  CHECK(shmkit_publisher_loan(p, sizeof(tick), SHMKIT_TRY, &data));
  tick *t = data;
  t->seq = 1;
  t->price = 2.5;
  t->venue = 3;
  t->check = 4;
  CHECK(shmkit_publisher_commit(p, sizeof(tick)));
  EXPECT_STATUS(shmkit_publisher_send(p, t, 8, SHMKIT_TRY), SHMKIT_SIZE_INVALID);
  EXPECT_STATUS(shmkit_publisher_loan(p, 2 * sizeof(tick), SHMKIT_TRY, &data), SHMKIT_SIZE_INVALID);
  const void *got;
  size_t len;
  CHECK(shmkit_subscriber_recv(s, SHMKIT_TRY, &got, &len));
  const tick *r = got;
  EXPECT(len == sizeof(tick) && r->seq == 1 && r->price == 2.5 && r->venue == 3 && r->check == 4);
  tick copy;
  CHECK(shmkit_subscriber_recv_into(bytes, &copy, sizeof copy, &len, SHMKIT_TRY));
  EXPECT(len == sizeof copy && copy.price == 2.5);
  shmkit_subscriber_close(s);
  shmkit_subscriber_close(bytes);
  shmkit_publisher_close(p);

  /* A byte broadcast is not a typed one. */
  unique_name(name, sizeof name, "bbc");
  CHECK(shmkit_broadcast_create_publisher(name, NULL, &p));
  EXPECT_STATUS(shmkit_broadcast_open_subscriber(name, &o, &s), SHMKIT_LAYOUT_MISMATCH);
  EXPECT_ERROR_MENTIONS("bytes");
  shmkit_publisher_close(p);
}

static void misuse_and_bad_input_get_clear_errors(void) {
  char name[64];
  unique_name(name, sizeof name, "bmisuse");
  shmkit_publisher *p = NULL;
  shmkit_subscriber *s = NULL;
  shmkit_broadcast_options o = shmkit_broadcast_options_default();
  EXPECT_STATUS(shmkit_broadcast_create_publisher("a/b", NULL, &p), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_broadcast_create_publisher(NULL, NULL, &p), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_broadcast_open_subscriber(name, NULL, &s), SHMKIT_NOT_FOUND);
  EXPECT_ERROR_MENTIONS(name);
  o.slots = 0;
  EXPECT_STATUS(shmkit_broadcast_create_publisher(name, &o, &p), SHMKIT_SIZE_INVALID);
  o = shmkit_broadcast_options_default();
  o.policy = 2;
  EXPECT_STATUS(shmkit_broadcast_create_publisher(name, &o, &p), SHMKIT_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("policy");
  EXPECT(p == NULL && s == NULL);

  o = shmkit_broadcast_options_default();
  o.slot_size = 64;
  o.max_subscribers = 1;
  CHECK(shmkit_broadcast_create_publisher(name, &o, &p));
  EXPECT(strcmp(shmkit_publisher_name(p), name) == 0);
  size_t count = 99;
  EXPECT_STATUS(shmkit_publisher_wait_for_subscribers(p, 1, SHMKIT_TRY, &count), SHMKIT_WOULD_BLOCK);
  EXPECT_STATUS(shmkit_publisher_wait_for_subscribers(p, 1, 1000000, NULL), SHMKIT_TIMEOUT);
  CHECK(shmkit_broadcast_open_subscriber(name, NULL, &s));
  shmkit_subscriber *s2;
  EXPECT_STATUS(shmkit_broadcast_open_subscriber(name, NULL, &s2), SHMKIT_FULL);
  CHECK(shmkit_publisher_wait_for_subscribers(p, 1, SHMKIT_TRY, &count));
  EXPECT(count == 1);
  EXPECT(strcmp(shmkit_subscriber_name(s), name) == 0 && shmkit_subscriber_max_message_len(s) == 64);

  void *data;
  EXPECT_STATUS(shmkit_publisher_loan(p, 65, SHMKIT_TRY, &data), SHMKIT_SIZE_INVALID);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT_STATUS(shmkit_publisher_commit(p, 0), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_publisher_abort(p), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_publisher_loan(p, 64, SHMKIT_TRY, &data));
  EXPECT_STATUS(shmkit_publisher_loan(p, 8, SHMKIT_TRY, &data), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_publisher_send(p, "x", 1, SHMKIT_TRY), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_publisher_wait_for_subscribers(p, 1, SHMKIT_TRY, &count), SHMKIT_INVALID_ARGUMENT);
  EXPECT(shmkit_publisher_subscribers(p) == 1); /* counted while a loan is outstanding too */
  EXPECT_STATUS(shmkit_publisher_commit(p, 65), SHMKIT_SIZE_INVALID);
  CHECK(shmkit_publisher_abort(p));
  EXPECT(shmkit_publisher_published(p) == 0);
  CHECK(shmkit_publisher_set_wait_strategy(p, SHMKIT_WAIT_BLOCKING));

  const void *got;
  size_t len;
  EXPECT_STATUS(shmkit_subscriber_recv(s, SHMKIT_TRY, &got, &len), SHMKIT_WOULD_BLOCK);
  EXPECT_STATUS(shmkit_subscriber_release(s), SHMKIT_INVALID_ARGUMENT);
  /* A buffer too small: the message is kept, with its length. */
  CHECK(shmkit_publisher_send(p, "0123456789", 10, SHMKIT_TRY));
  char small[4], big[16];
  EXPECT_STATUS(shmkit_subscriber_recv_into(s, small, sizeof small, &len, SHMKIT_TRY), SHMKIT_SIZE_INVALID);
  EXPECT(len == 10 && shmkit_subscriber_len(s) == 10 && shmkit_subscriber_next_seq(s) == 0);
  CHECK(shmkit_subscriber_recv_into(s, big, sizeof big, &len, SHMKIT_TRY));
  EXPECT(len == 10 && memcmp(big, "0123456789", 10) == 0 && shmkit_subscriber_next_seq(s) == 1);
  /* Closing with a message held and a loan outstanding gives both back. */
  CHECK(shmkit_publisher_send(p, "held", 4, SHMKIT_TRY));
  CHECK(shmkit_subscriber_recv(s, SHMKIT_TRY, &got, &len));
  EXPECT_STATUS(shmkit_subscriber_set_wait_strategy(s, 1), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_publisher_loan(p, 8, SHMKIT_TRY, &data));
  shmkit_subscriber_close(s);
  shmkit_publisher_close(p);
  shmkit_publisher_close(NULL);
  shmkit_subscriber_close(NULL);
  EXPECT(shmkit_publisher_subscribers(NULL) == 0 && shmkit_subscriber_next_seq(NULL) == 0);
  EXPECT_STATUS(shmkit_broadcast_open_subscriber(name, NULL, &s), SHMKIT_NOT_FOUND);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2 && strncmp(argv[1], "sub-", 4) == 0) return child_subscriber(argv[1], argv[2]);
  publish_to_two_children(SHMKIT_POLICY_BLOCK);
  publish_to_two_children(SHMKIT_POLICY_OVERWRITE);
  a_lagging_subscriber_is_told_how_many_it_lost();
  typed_broadcasts_check_the_layout();
  misuse_and_bad_input_get_clear_errors();
  return 0;
}
