/* SPSC channels from C: a child producer streaming to the parent in place and by copy, a
 * producer killed mid-stream, typed sides (a C struct's layout), misuse and bad input. */
#include "harness.h"

#include <stdint.h>

#define N 20000
#define SECOND 1000000000LL

/* Message i: 8 bytes of i, then (i % 200) bytes of (i + k) & 0xff. */
static size_t message_len(uint64_t i) { return 8 + (size_t)(i % 200); }

static void fill(unsigned char *p, uint64_t i) {
  memcpy(p, &i, 8);
  for (size_t k = 0; k < i % 200; k++) p[8 + k] = (unsigned char)((i + k) & 0xff);
}

static void check_message(const unsigned char *p, size_t len, uint64_t want) {
  uint64_t i;
  if (len != message_len(want)) FAIL("message %llu: %zu bytes", (unsigned long long)want, len);
  memcpy(&i, p, 8);
  if (i != want) FAIL("message %llu where %llu was due", (unsigned long long)i,
                      (unsigned long long)want);
  for (size_t k = 0; k < i % 200; k++)
    if (p[8 + k] != (unsigned char)((i + k) & 0xff)) FAIL("message %llu byte %zu", (unsigned long long)i, k);
}

static shmkit_channel_options opts_waiting(void) {
  shmkit_channel_options o = shmkit_channel_options_default();
  o.open_timeout_ns = 10 * SECOND;
  return o;
}

/* The child producer: N messages, even ones loaned and written in place, odd ones sent. */
static int child_producer(const char *name) {
  shmkit_channel_options o = opts_waiting();
  shmkit_producer *p;
  CHECK(shmkit_channel_open_producer(name, &o, &p));
  EXPECT(!shmkit_producer_is_creator(p));
  unsigned char msg[256];
  for (uint64_t i = 0; i < N; i++) {
    if (i % 2 == 0) {
      void *data;
      /* Loan more than needed, commit the message's length (a shorter commit cuts it). */
      CHECK(shmkit_producer_loan(p, 256, SHMKIT_FOREVER, &data));
      EXPECT(((uintptr_t)data & 7) == 0);
      fill(data, i);
      CHECK(shmkit_producer_commit(p, message_len(i)));
    } else {
      fill(msg, i);
      CHECK(shmkit_producer_send(p, msg, message_len(i), SHMKIT_FOREVER));
    }
  }
  shmkit_producer_close(p);
  return 0;
}

/* The child that streams counters until it is killed. */
static int child_stream_forever(const char *name) {
  shmkit_channel_options o = opts_waiting();
  shmkit_producer *p;
  CHECK(shmkit_channel_open_producer(name, &o, &p));
  for (uint64_t i = 0;; i++) {
    void *data;
    CHECK(shmkit_producer_loan(p, 64, SHMKIT_FOREVER, &data));
    memset(data, 0xab, 64); /* a partial message would show these */
    memcpy(data, &i, 8);
    memcpy((char *)data + 56, &i, 8);
    CHECK(shmkit_producer_commit(p, 64));
  }
}

static void a_child_streams_to_the_parent_in_place_and_by_copy(void) {
  char name[64];
  unique_name(name, sizeof name, "chan");
  shmkit_channel_options o = shmkit_channel_options_default();
  o.capacity = 1 << 14; /* small: the producer blocks on a full ring now and then */
  shmkit_consumer *c;
  CHECK(shmkit_channel_create_consumer(name, &o, &c));
  EXPECT(shmkit_consumer_is_creator(c));
  EXPECT(shmkit_consumer_capacity(c) == 1 << 14);
  EXPECT(strcmp(shmkit_consumer_name(c), name) == 0);
  child_t child = spawn_self("producer", name);
  unsigned char buf[256];
  for (uint64_t i = 0; i < N; i++) {
    if (i % 3 == 0) {
      size_t len = 0;
      CHECK(shmkit_consumer_recv_into(c, buf, sizeof buf, &len, 10 * SECOND));
      check_message(buf, len, i);
      EXPECT(shmkit_consumer_len(c) == 0);
    } else {
      const void *data;
      size_t len;
      CHECK(shmkit_consumer_recv(c, 10 * SECOND, &data, &len));
      EXPECT(((uintptr_t)data & 7) == 0);
      EXPECT(shmkit_consumer_len(c) == len);
      check_message(data, len, i);
      /* Every other one is released by the next receive instead. */
      if (i % 2 == 0) CHECK(shmkit_consumer_release(c));
    }
  }
  EXPECT_CHILD_OK(child);
  const void *data;
  size_t len;
  EXPECT_STATUS(shmkit_consumer_recv(c, 10 * SECOND, &data, &len), SHMKIT_DISCONNECTED);
  EXPECT_ERROR_MENTIONS(name);
  shmkit_consumer_close(c);
}

static void a_producer_killed_mid_stream_leaves_whole_messages_then_disconnected(void) {
  char name[64];
  unique_name(name, sizeof name, "kill");
  shmkit_channel_options o = shmkit_channel_options_default();
  o.capacity = 1 << 12;
  shmkit_consumer *c;
  CHECK(shmkit_channel_create_consumer(name, &o, &c));
  child_t child = spawn_self("stream", name);
  uint64_t next = 0;
  const void *data;
  size_t len;
  for (; next < 2000; next++) {
    CHECK(shmkit_consumer_recv(c, 10 * SECOND, &data, &len));
    uint64_t head, tail;
    memcpy(&head, data, 8);
    memcpy(&tail, (const char *)data + 56, 8);
    EXPECT(len == 64 && head == next && tail == next);
  }
  kill_child(child); /* mid-stream: it is blocked on a full ring or writing a loan */
  for (;;) {
    shmkit_status s = shmkit_consumer_recv(c, 10 * SECOND, &data, &len);
    if (s == SHMKIT_DISCONNECTED) break;
    if (s != SHMKIT_OK) FAIL("recv after the kill -> %s: %s", shmkit_status_name(s), shmkit_last_error());
    uint64_t head, tail;
    memcpy(&head, data, 8);
    memcpy(&tail, (const char *)data + 56, 8);
    EXPECT(len == 64 && head == next && tail == next);
    next++;
  }
  EXPECT_ERROR_MENTIONS(name);
  /* Still disconnected, and a new producer may attach and go on. */
  EXPECT_STATUS(shmkit_consumer_recv(c, SECOND, &data, &len), SHMKIT_DISCONNECTED);
  shmkit_producer *p;
  CHECK(shmkit_channel_open_producer(name, NULL, &p));
  CHECK(shmkit_producer_send(p, &next, 8, SHMKIT_TRY));
  CHECK(shmkit_consumer_recv(c, SHMKIT_TRY, &data, &len));
  EXPECT(len == 8 && memcmp(data, &next, 8) == 0);
  shmkit_producer_close(p);
  shmkit_consumer_close(c);
}

/* A C struct and its layout: 24 bytes, 8-aligned, tagged. */
typedef struct {
  uint64_t t_ns;
  float xyz[3];
  uint32_t quality;
} pose;

typedef struct {
  uint64_t t_ns;
  float xyz[2];
} pose_v0; /* 16 bytes */

static void typed_sides_check_the_layout_and_the_lengths(void) {
  char name[64];
  unique_name(name, sizeof name, "typed");
  shmkit_layout pose_layout = {sizeof(pose), _Alignof(pose), "pose v1"};
  shmkit_channel_options o = shmkit_channel_options_default();
  o.layout = &pose_layout;
  shmkit_producer *p;
  CHECK(shmkit_channel_create_producer(name, &o, &p));
  shmkit_consumer *c;
  CHECK(shmkit_channel_open_consumer(name, &o, &c));

  /* Another struct, another tag, no tag, bytes where a struct is expected: refused. */
  shmkit_layout small = {sizeof(pose_v0), _Alignof(pose_v0), "pose v1"};
  shmkit_channel_options other = shmkit_channel_options_default();
  other.layout = &small;
  shmkit_producer *p2 = NULL;
  EXPECT_STATUS(shmkit_channel_open_producer(name, &other, &p2), SHMKIT_LAYOUT_MISMATCH);
  EXPECT(p2 == NULL);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT_ERROR_MENTIONS("24-byte messages, align 8, tag \"pose v1\"");
  EXPECT_ERROR_MENTIONS("16-byte messages, align 8, tag \"pose v1\"");
  shmkit_layout v2 = pose_layout;
  v2.tag = "pose v2";
  other.layout = &v2;
  EXPECT_STATUS(shmkit_channel_open_or_create_producer(name, &other, &p2), SHMKIT_LAYOUT_MISMATCH);
  EXPECT_ERROR_MENTIONS("\"pose v1\"");
  EXPECT_ERROR_MENTIONS("\"pose v2\"");
  v2.tag = NULL;
  EXPECT_STATUS(shmkit_channel_open_producer(name, &other, &p2), SHMKIT_LAYOUT_MISMATCH);
  EXPECT_ERROR_MENTIONS("no tag");
  /* An alignment the ring cannot give, and one that is no alignment. */
  shmkit_layout wide = {32, 16, "wide"};
  other.layout = &wide;
  EXPECT_STATUS(shmkit_channel_create_producer("never", &other, &p2), SHMKIT_INVALID_ARGUMENT);
  shmkit_layout bad = {24, 3, NULL};
  other.layout = &bad;
  EXPECT_STATUS(shmkit_channel_create_producer("never", &other, &p2), SHMKIT_INVALID_ARGUMENT);

  /* Values in place, and slices of them; lengths that are not whole values are refused. */
  void *data;
  CHECK(shmkit_producer_loan(p, sizeof(pose), SHMKIT_TRY, &data));
  pose *v = data;
  v->t_ns = 1;
  v->xyz[0] = 0.5f;
  v->quality = 9;
  EXPECT_STATUS(shmkit_producer_commit(p, 10), SHMKIT_SIZE_INVALID);
  EXPECT_ERROR_MENTIONS("whole number");
  CHECK(shmkit_producer_commit(p, sizeof(pose))); /* the loan was kept */
  pose two[2] = {{2, {1, 2, 3}, 7}, {3, {4, 5, 6}, 8}};
  CHECK(shmkit_producer_send(p, two, sizeof two, SHMKIT_TRY));
  EXPECT_STATUS(shmkit_producer_send(p, two, 10, SHMKIT_TRY), SHMKIT_SIZE_INVALID);
  EXPECT_STATUS(shmkit_producer_loan(p, 30, SHMKIT_TRY, &data), SHMKIT_SIZE_INVALID);
  const void *got;
  size_t len;
  CHECK(shmkit_consumer_recv(c, SHMKIT_TRY, &got, &len));
  EXPECT(len == sizeof(pose));
  const pose *r = got;
  EXPECT(r->t_ns == 1 && r->xyz[0] == 0.5f && r->quality == 9);
  pose back[2];
  CHECK(shmkit_consumer_recv_into(c, back, sizeof back, &len, SHMKIT_TRY));
  EXPECT(len == sizeof back && back[1].t_ns == 3 && back[1].xyz[2] == 6.0f);
  shmkit_producer_close(p);
  shmkit_consumer_close(c);

  /* A typed consumer fed by a byte producer: a message that is not whole values is
   * SHMKIT_CORRUPT and dropped, as in Rust; the next one comes through. */
  unique_name(name, sizeof name, "typed-bytes");
  CHECK(shmkit_channel_create_consumer(name, &o, &c));
  CHECK(shmkit_channel_open_producer(name, NULL, &p));
  CHECK(shmkit_producer_send(p, "abc", 3, SHMKIT_TRY));
  CHECK(shmkit_producer_send(p, two, sizeof(pose), SHMKIT_TRY));
  EXPECT_STATUS(shmkit_consumer_recv(c, SHMKIT_TRY, &got, &len), SHMKIT_CORRUPT);
  EXPECT_ERROR_MENTIONS("3 bytes");
  CHECK(shmkit_consumer_recv(c, SHMKIT_TRY, &got, &len));
  EXPECT(len == sizeof(pose) && ((const pose *)got)->t_ns == 2);
  shmkit_consumer_close(c);
  shmkit_producer_close(p);

  /* A byte channel is not a typed one. */
  unique_name(name, sizeof name, "bytes");
  CHECK(shmkit_channel_create_producer(name, NULL, &p));
  EXPECT_STATUS(shmkit_channel_open_consumer(name, &o, &c), SHMKIT_LAYOUT_MISMATCH);
  EXPECT_ERROR_MENTIONS("byte channel");
  shmkit_producer_close(p);
}

static void misuse_and_bad_input_get_clear_errors(void) {
  char name[64];
  unique_name(name, sizeof name, "misuse");
  shmkit_producer *p = NULL;
  shmkit_consumer *c = NULL;
  EXPECT_STATUS(shmkit_channel_create_producer("a/b", NULL, &p), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_channel_create_producer("", NULL, &p), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_channel_create_producer(NULL, NULL, &p), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_channel_create_producer(name, NULL, NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_channel_open_consumer(name, NULL, &c), SHMKIT_NOT_FOUND);
  EXPECT_ERROR_MENTIONS(name);
  shmkit_channel_options o = shmkit_channel_options_default();
  o.wait_strategy = 7;
  EXPECT_STATUS(shmkit_channel_create_producer(name, &o, &p), SHMKIT_INVALID_ARGUMENT);
  EXPECT(p == NULL && c == NULL);

  o = shmkit_channel_options_default();
  o.wait_strategy = SHMKIT_WAIT_BLOCKING;
  CHECK(shmkit_channel_open_or_create_producer(name, &o, &p));
  EXPECT(shmkit_producer_is_creator(p));
  CHECK(shmkit_channel_open_or_create_consumer(name, &o, &c));
  EXPECT(!shmkit_consumer_is_creator(c));
  EXPECT_STATUS(shmkit_channel_open_consumer(name, NULL, &c), SHMKIT_IN_USE);
  size_t max = shmkit_producer_max_message_len(p);
  EXPECT(max == shmkit_producer_capacity(p) / 2 - 8);

  void *data;
  EXPECT_STATUS(shmkit_producer_loan(p, max + 1, SHMKIT_TRY, &data), SHMKIT_SIZE_INVALID);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT_STATUS(shmkit_producer_commit(p, 0), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_producer_abort(p), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_producer_loan(p, 16, SHMKIT_TRY, &data));
  EXPECT_STATUS(shmkit_producer_loan(p, 16, SHMKIT_TRY, &data), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_producer_send(p, "x", 1, SHMKIT_TRY), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_producer_set_wait_strategy(p, SHMKIT_WAIT_ADAPTIVE), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_producer_commit(p, 17), SHMKIT_SIZE_INVALID);
  CHECK(shmkit_producer_abort(p));
  CHECK(shmkit_producer_set_wait_strategy(p, SHMKIT_WAIT_BUSY_POLL));
  EXPECT_STATUS(shmkit_producer_set_wait_strategy(p, -1), SHMKIT_INVALID_ARGUMENT);

  const void *got;
  size_t len = 99;
  EXPECT_STATUS(shmkit_consumer_recv(c, SHMKIT_TRY, &got, &len), SHMKIT_WOULD_BLOCK);
  EXPECT_STATUS(shmkit_consumer_recv(c, 1000000, &got, &len), SHMKIT_TIMEOUT);
  EXPECT_STATUS(shmkit_consumer_release(c), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_consumer_recv(c, SHMKIT_TRY, NULL, &len), SHMKIT_INVALID_ARGUMENT);

  /* A buffer too small: SHMKIT_SIZE_INVALID with the length, and the message is kept. */
  CHECK(shmkit_producer_send(p, "0123456789", 10, SHMKIT_TRY));
  CHECK(shmkit_producer_send(p, "next", 4, SHMKIT_TRY));
  char small[4];
  EXPECT_STATUS(shmkit_consumer_recv_into(c, small, sizeof small, &len, SHMKIT_TRY), SHMKIT_SIZE_INVALID);
  EXPECT(len == 10 && shmkit_consumer_len(c) == 10);
  EXPECT_STATUS(shmkit_consumer_recv_into(c, small, sizeof small, &len, SHMKIT_TRY), SHMKIT_SIZE_INVALID);
  char big[16];
  CHECK(shmkit_consumer_recv_into(c, big, sizeof big, &len, SHMKIT_TRY));
  EXPECT(len == 10 && memcmp(big, "0123456789", 10) == 0);
  /* Kept again, then taken in place by recv. */
  CHECK(shmkit_producer_send(p, "0123456789", 10, SHMKIT_TRY));
  CHECK(shmkit_consumer_recv_into(c, small, sizeof small, &len, SHMKIT_TRY));
  EXPECT(len == 4 && memcmp(small, "next", 4) == 0);
  EXPECT_STATUS(shmkit_consumer_recv_into(c, NULL, 0, &len, SHMKIT_TRY), SHMKIT_SIZE_INVALID);
  CHECK(shmkit_consumer_recv(c, SHMKIT_TRY, &got, &len));
  EXPECT(len == 10 && memcmp(got, "0123456789", 10) == 0);
  EXPECT_STATUS(shmkit_consumer_set_wait_strategy(c, SHMKIT_WAIT_ADAPTIVE), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_consumer_release(c));
  CHECK(shmkit_consumer_set_wait_strategy(c, SHMKIT_WAIT_ADAPTIVE));

  /* Empty messages are messages. */
  CHECK(shmkit_producer_send(p, NULL, 0, SHMKIT_TRY));
  CHECK(shmkit_consumer_recv_into(c, NULL, 0, &len, SHMKIT_TRY));
  EXPECT(len == 0);

  /* Closing with a loan outstanding and a message held gives both back. */
  CHECK(shmkit_producer_send(p, "held", 4, SHMKIT_TRY));
  CHECK(shmkit_consumer_recv(c, SHMKIT_TRY, &got, &len));
  CHECK(shmkit_producer_loan(p, 8, SHMKIT_TRY, &data));
  shmkit_consumer_close(c);
  shmkit_producer_close(p);
  shmkit_producer_close(NULL);
  shmkit_consumer_close(NULL);
  EXPECT(shmkit_producer_capacity(NULL) == 0 && strcmp(shmkit_consumer_name(NULL), "") == 0);
  EXPECT_STATUS(shmkit_producer_commit(NULL, 0), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_channel_open_consumer(name, NULL, &c), SHMKIT_NOT_FOUND);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2 && strcmp(argv[1], "producer") == 0) return child_producer(argv[2]);
  if (argc > 2 && strcmp(argv[1], "stream") == 0) return child_stream_forever(argv[2]);
  a_child_streams_to_the_parent_in_place_and_by_copy();
  a_producer_killed_mid_stream_leaves_whole_messages_then_disconnected();
  typed_sides_check_the_layout_and_the_lengths();
  misuse_and_bad_input_get_clear_errors();
  return 0;
}
