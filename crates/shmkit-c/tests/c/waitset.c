/* Wait sets from C: over several servers and clients, one made ready by a child process. */
#include "harness.h"

#define SECOND 1000000000LL
#define WAIT (10 * SECOND)

/* Child: connects to the service `name` and calls it once. */
static int child_poke(const char *name) {
  shmkit_service_options o = shmkit_service_options_default();
  o.open_timeout_ns = WAIT;
  shmkit_client *c;
  CHECK(shmkit_service_open_client(name, &o, &c));
  const void *data;
  size_t len;
  CHECK(shmkit_client_call(c, "poke", 4, WAIT, &data, &len));
  EXPECT(len == 2 && memcmp(data, "ok", 2) == 0);
  shmkit_client_close(c);
  return 0;
}

/* Child: serves the service `name`, answering each request with itself, until "stop". */
static int child_echo(const char *name) {
  shmkit_server *s;
  CHECK(shmkit_service_create_server(name, NULL, &s));
  for (;;) {
    shmkit_request_handle h;
    const void *data;
    size_t len;
    CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));
    CHECK(shmkit_server_respond(s, &h, data, len));
    if (len == 4 && memcmp(data, "stop", 4) == 0) break;
  }
  shmkit_server_close(s);
  return 0;
}

/* Child: opens the event `name` and sets it. */
static int child_set(const char *name) {
  shmkit_event_options o = shmkit_event_options_default();
  o.open_timeout_ns = WAIT;
  shmkit_event *e;
  CHECK(shmkit_event_open(name, &o, &e));
  CHECK(shmkit_event_set(e));
  shmkit_event_close(e);
  return 0;
}

/* Child: opens the semaphore `name` and posts it. */
static int child_post(const char *name) {
  shmkit_semaphore_options o = shmkit_semaphore_options_default();
  o.open_timeout_ns = WAIT;
  shmkit_semaphore *s;
  CHECK(shmkit_semaphore_open(name, &o, &s));
  CHECK(shmkit_semaphore_post(s));
  shmkit_semaphore_close(s);
  return 0;
}

/* Child: opens the channel `name` as its producer and sends one message. */
static int child_send(const char *name) {
  shmkit_channel_options o = shmkit_channel_options_default();
  o.open_timeout_ns = WAIT;
  shmkit_producer *p;
  CHECK(shmkit_channel_open_producer(name, &o, &p));
  CHECK(shmkit_producer_send(p, "hi", 2, WAIT));
  shmkit_producer_close(p);
  return 0;
}

/* Waits on `ws` and expects exactly member `want` ready. */
static void expect_ready(shmkit_waitset *ws, size_t want) {
  size_t ready[8], n = 0;
  CHECK(shmkit_waitset_wait(ws, WAIT, ready, 8, &n));
  if (n != 1 || ready[0] != want)
    FAIL("expected member %lu alone ready, got %lu members, the first %lu", (unsigned long)want,
         (unsigned long)n, (unsigned long)ready[0]);
}

static void a_child_makes_one_of_several_servers_ready(void) {
  char names[3][64];
  shmkit_server *servers[3];
  shmkit_waitset *ws;
  CHECK(shmkit_waitset_new(&ws));
  for (size_t i = 0; i < 3; i++) {
    unique_name(names[i], sizeof names[i], "wssrv");
    CHECK(shmkit_service_create_server(names[i], NULL, &servers[i]));
    size_t index = 99;
    CHECK(shmkit_waitset_add_server(ws, servers[i], &index));
    EXPECT(index == i);
  }
  EXPECT(shmkit_waitset_len(ws) == 3);
  /* Nothing is ready: a timeout, or would-block. */
  size_t ready[4], n = 0;
  EXPECT_STATUS(shmkit_waitset_wait(ws, SECOND / 20, ready, 4, &n), SHMKIT_TIMEOUT);
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_WOULD_BLOCK);
  child_t child = spawn_self("poke", names[1]);
  expect_ready(ws, 1);
  shmkit_request_handle h;
  const void *data;
  size_t len;
  EXPECT_STATUS(shmkit_server_recv(servers[0], SHMKIT_TRY, &h, &data, &len), SHMKIT_WOULD_BLOCK);
  CHECK(shmkit_server_recv(servers[1], SHMKIT_TRY, &h, &data, &len));
  EXPECT(len == 4 && memcmp(data, "poke", 4) == 0);
  CHECK(shmkit_server_respond(servers[1], &h, "ok", 2));
  EXPECT_CHILD_OK(child);
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_WOULD_BLOCK);
  shmkit_waitset_close(ws);
  for (size_t i = 0; i < 3; i++) shmkit_server_close(servers[i]);
}

static void servers_and_clients_mix_in_one_set(void) {
  char local[64], remote[64];
  unique_name(local, sizeof local, "wslocal");
  unique_name(remote, sizeof remote, "wsremote");
  child_t echo = spawn_self("echo", remote);
  shmkit_server *s;
  CHECK(shmkit_service_create_server(local, NULL, &s));
  shmkit_service_options o = shmkit_service_options_default();
  o.open_timeout_ns = WAIT;
  shmkit_client *c0, *c1;
  CHECK(shmkit_service_open_client(remote, &o, &c0));
  CHECK(shmkit_service_open_client(remote, &o, &c1));
  shmkit_waitset *ws;
  CHECK(shmkit_waitset_new(&ws));
  CHECK(shmkit_waitset_add_server(ws, s, NULL));
  CHECK(shmkit_waitset_add_client(ws, c0, NULL));
  CHECK(shmkit_waitset_add_client(ws, c1, NULL));
  /* A member is given once. */
  EXPECT_STATUS(shmkit_waitset_add_client(ws, c1, NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_waitset_add_client(ws, NULL, NULL), SHMKIT_INVALID_ARGUMENT);
  size_t ready[4], n = 0;
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_WOULD_BLOCK);
  /* The child server answers c1 alone: c1 is ready. */
  uint64_t p;
  CHECK(shmkit_client_request(c1, "echo", 4, &p));
  expect_ready(ws, 2);
  const void *data;
  size_t len;
  CHECK(shmkit_client_wait(c1, p, SHMKIT_TRY, &data, &len));
  EXPECT(len == 4 && memcmp(data, "echo", 4) == 0);
  /* A client holding a response cannot be waited on until it releases it. */
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_client_release(c1));
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_WOULD_BLOCK);
  /* A request to the local server makes it ready; a cap of one gives the first. */
  shmkit_client *lc;
  CHECK(shmkit_service_open_client(local, NULL, &lc));
  uint64_t lp;
  CHECK(shmkit_client_request(lc, "local", 5, &lp));
  CHECK(shmkit_client_request(c0, "echo", 4, &p));
  /* Both become ready (the child answers c0 soon). */
  for (int tries = 0;; tries++) {
    CHECK(shmkit_waitset_wait(ws, WAIT, ready, 4, &n));
    if (n == 2) break;
    EXPECT(tries < 1000);
    sleep_ms(5);
  }
  EXPECT(ready[0] == 0 && ready[1] == 1);
  CHECK(shmkit_waitset_wait(ws, WAIT, ready, 1, &n));
  EXPECT(n == 1 && ready[0] == 0);
  EXPECT_STATUS(shmkit_waitset_wait(ws, WAIT, ready, 0, &n), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_waitset_wait(ws, WAIT, NULL, 4, &n), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_waitset_wait(NULL, WAIT, ready, 4, &n), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_client_wait(c0, p, SHMKIT_TRY, &data, &len));
  CHECK(shmkit_client_release(c0));
  shmkit_request_handle h;
  CHECK(shmkit_server_recv(s, SHMKIT_TRY, &h, &data, &len));
  CHECK(shmkit_server_respond(s, &h, "", 0));
  CHECK(shmkit_client_wait(lc, lp, WAIT, &data, &len));
  /* Stop the child; its server gone, both clients are ready (their calls say DISCONNECTED). */
  CHECK(shmkit_client_call(c0, "stop", 4, WAIT, &data, &len));
  CHECK(shmkit_client_release(c0));
  EXPECT_CHILD_OK(echo);
  for (int tries = 0;; tries++) {
    CHECK(shmkit_waitset_wait(ws, WAIT, ready, 4, &n));
    if (n == 2) break;
    EXPECT(tries < 1000);
    sleep_ms(5);
  }
  EXPECT(ready[0] == 1 && ready[1] == 2);
  EXPECT_STATUS(shmkit_client_request(c1, "x", 1, &p), SHMKIT_DISCONNECTED);
  /* Cleared, the set has no members; the handles may then be closed. */
  CHECK(shmkit_waitset_clear(ws));
  EXPECT(shmkit_waitset_len(ws) == 0);
  EXPECT_STATUS(shmkit_waitset_wait(ws, SECOND / 50, ready, 4, &n), SHMKIT_TIMEOUT);
  shmkit_client_close(lc);
  shmkit_client_close(c0);
  shmkit_client_close(c1);
  shmkit_server_close(s);
  shmkit_waitset_close(ws);
  shmkit_waitset_close(NULL);
}

static void events_and_semaphores_join_a_set_with_a_server(void) {
  char srv_name[64], ev_name[64], sem_name[64];
  unique_name(srv_name, sizeof srv_name, "wsmix");
  unique_name(ev_name, sizeof ev_name, "wsev");
  unique_name(sem_name, sizeof sem_name, "wssem");
  shmkit_server *s;
  shmkit_event *e;
  shmkit_semaphore *sem;
  CHECK(shmkit_service_create_server(srv_name, NULL, &s));
  CHECK(shmkit_event_create(ev_name, NULL, &e));
  CHECK(shmkit_semaphore_create(sem_name, NULL, &sem));
  shmkit_waitset *ws;
  size_t index;
  CHECK(shmkit_waitset_new(&ws));
  CHECK(shmkit_waitset_add_server(ws, s, &index));
  CHECK(shmkit_waitset_add_event(ws, e, &index));
  EXPECT(index == 1);
  CHECK(shmkit_waitset_add_semaphore(ws, sem, &index));
  EXPECT(index == 2);
  EXPECT_STATUS(shmkit_waitset_add_event(ws, e, &index), SHMKIT_INVALID_ARGUMENT);
  size_t ready[4], n = 0;
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_WOULD_BLOCK);
  /* Another process sets the event: only it is ready; taking it makes the set quiet again. */
  child_t c = spawn_self("set", ev_name);
  expect_ready(ws, 1);
  EXPECT_CHILD_OK(c);
  CHECK(shmkit_event_wait(e, SHMKIT_TRY));
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_WOULD_BLOCK);
  /* Another process posts the semaphore. */
  c = spawn_self("post", sem_name);
  expect_ready(ws, 2);
  EXPECT_CHILD_OK(c);
  CHECK(shmkit_semaphore_wait(sem, SHMKIT_TRY));
  shmkit_waitset_close(ws);
  shmkit_semaphore_close(sem);
  shmkit_event_close(e);
  shmkit_server_close(s);
}

static void consumers_and_subscribers_join_a_set(void) {
  char chan[64], topic[64];
  unique_name(chan, sizeof chan, "wschan");
  unique_name(topic, sizeof topic, "wstopic");
  shmkit_consumer *c;
  shmkit_publisher *pub;
  shmkit_subscriber *sub;
  CHECK(shmkit_channel_create_consumer(chan, NULL, &c));
  CHECK(shmkit_broadcast_create_publisher(topic, NULL, &pub));
  CHECK(shmkit_broadcast_open_subscriber(topic, NULL, &sub));
  shmkit_waitset *ws;
  size_t index, ready[4], n = 0;
  CHECK(shmkit_waitset_new(&ws));
  CHECK(shmkit_waitset_add_consumer(ws, c, &index));
  CHECK(shmkit_waitset_add_subscriber(ws, sub, &index));
  EXPECT(index == 1);
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_WOULD_BLOCK);
  /* Another process sends on the channel: the consumer alone is ready. */
  child_t child = spawn_self("send", chan);
  expect_ready(ws, 0);
  EXPECT_CHILD_OK(child);
  const void *data;
  size_t len;
  CHECK(shmkit_consumer_recv(c, SHMKIT_TRY, &data, &len));
  EXPECT(len == 2 && memcmp(data, "hi", 2) == 0);
  /* A consumer holding a message cannot be waited on; released, it can. */
  EXPECT_STATUS(shmkit_waitset_wait(ws, SHMKIT_TRY, ready, 4, &n), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_consumer_release(c));
  /* The producer is gone now: the consumer is ready again (with SHMKIT_DISCONNECTED). */
  expect_ready(ws, 0);
  EXPECT_STATUS(shmkit_consumer_recv(c, SHMKIT_TRY, &data, &len), SHMKIT_DISCONNECTED);
  shmkit_waitset_clear(ws);
  CHECK(shmkit_waitset_add_subscriber(ws, sub, &index));
  CHECK(shmkit_publisher_send(pub, "topic", 5, WAIT));
  expect_ready(ws, 0);
  CHECK(shmkit_subscriber_recv(sub, SHMKIT_TRY, &data, &len));
  EXPECT(len == 5 && memcmp(data, "topic", 5) == 0);
  shmkit_waitset_close(ws);
  shmkit_subscriber_close(sub);
  shmkit_publisher_close(pub);
  shmkit_consumer_close(c);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2) {
    if (strcmp(argv[1], "poke") == 0) return child_poke(argv[2]);
    if (strcmp(argv[1], "echo") == 0) return child_echo(argv[2]);
    if (strcmp(argv[1], "set") == 0) return child_set(argv[2]);
    if (strcmp(argv[1], "send") == 0) return child_send(argv[2]);
    if (strcmp(argv[1], "post") == 0) return child_post(argv[2]);
    FAIL("unknown role %s", argv[1]);
  }
  a_child_makes_one_of_several_servers_ready();
  servers_and_clients_mix_in_one_set();
  events_and_semaphores_join_a_set_with_a_server();
  consumers_and_subscribers_join_a_set();
  return 0;
}
