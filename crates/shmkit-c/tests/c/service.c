/* Services from C: a server child and client children, killed clients and servers, typed
 * services, limits, misuse and timeouts. */
#include "harness.h"

#include <ctype.h>

#define SECOND 1000000000LL
#define WAIT (10 * SECOND)
#define CLIENTS 3
#define REQUESTS 20

/* The answer to a request: its bytes reversed and upper-cased. */
static void transform(const char *in, size_t len, char *out) {
  for (size_t i = 0; i < len; i++) out[i] = (char)toupper((unsigned char)in[len - 1 - i]);
}

/* A struct shared with Rust's `Add` in crates/shmkit/tests/it/service.rs. */
typedef struct {
  uint64_t a;
  uint32_t b;
  uint32_t pad;
} add_req;

static shmkit_layout add_layout(void) {
  shmkit_layout l = {sizeof(add_req), _Alignof(add_req), "add v1"};
  return l;
}

static shmkit_layout sum_layout(void) {
  shmkit_layout l = {sizeof(uint64_t), _Alignof(uint64_t), "add v1"};
  return l;
}

/* Child: serves requests (answering each with its transform) until one says "stop". */
static int child_server(const char *name) {
  shmkit_service_options o = shmkit_service_options_default();
  o.max_clients = CLIENTS + 1;
  o.max_outstanding = 2;
  o.max_request_len = 64;
  o.max_response_len = 64;
  shmkit_server *s;
  CHECK(shmkit_service_create_server(name, &o, &s));
  for (;;) {
    shmkit_request_handle h;
    const void *data;
    size_t len;
    CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));
    char out[64];
    transform(data, len, out);
    /* A client may have gone (the last one, sending "stop", waits for its answer). */
    shmkit_status st = shmkit_server_respond(s, &h, out, len);
    EXPECT(st == SHMKIT_OK || st == SHMKIT_DISCONNECTED);
    if (len == 4 && memcmp(data, "stop", 4) == 0) break;
  }
  shmkit_server_close(s);
  return 0;
}

/* Child: connects and checks REQUESTS answers, two outstanding at a time. */
static int child_client(const char *name) {
  shmkit_service_options o = shmkit_service_options_default();
  o.open_timeout_ns = WAIT;
  shmkit_client *c;
  CHECK(shmkit_service_open_client(name, &o, &c));
  for (int i = 0; i < REQUESTS; i += 2) {
    char a[32], b[32], want[32];
    int la = snprintf(a, sizeof a, "req %d from %d", i, (int)getpid());
    int lb = snprintf(b, sizeof b, "req %d from %d", i + 1, (int)getpid());
    uint64_t pa, pb;
    CHECK(shmkit_client_request(c, a, (size_t)la, &pa));
    CHECK(shmkit_client_request(c, b, (size_t)lb, &pb));
    EXPECT(shmkit_client_outstanding(c) == 2);
    const void *data;
    size_t len;
    /* Waited for in the other order: the first answer is kept for its own wait. */
    CHECK(shmkit_client_wait(c, pb, WAIT, &data, &len));
    transform(b, (size_t)lb, want);
    EXPECT(len == (size_t)lb && memcmp(data, want, len) == 0);
    CHECK(shmkit_client_wait(c, pa, WAIT, &data, &len));
    transform(a, (size_t)la, want);
    EXPECT(len == (size_t)la && memcmp(data, want, len) == 0);
    CHECK(shmkit_client_release(c));
  }
  shmkit_client_close(c);
  return 0;
}

/* Child: connects, sends a request and hangs until killed. */
static int child_request_and_hang(const char *name) {
  shmkit_client *c;
  CHECK(shmkit_service_open_client(name, NULL, &c));
  uint64_t p;
  CHECK(shmkit_client_request(c, "never read", 10, &p));
  for (;;) sleep_ms(1000);
}

/* Child: serves one request ("ping" -> "pong"), then hangs until killed. */
static int child_serve_and_hang(const char *name) {
  shmkit_server *s;
  CHECK(shmkit_service_create_server(name, NULL, &s));
  shmkit_request_handle h;
  const void *data;
  size_t len;
  CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));
  CHECK(shmkit_server_respond(s, &h, "pong", 4));
  for (;;) sleep_ms(1000);
}

/* Child: a typed client with the right structs, then openers with wrong ones. */
static int child_typed_client(const char *name) {
  shmkit_layout req = add_layout(), resp = sum_layout();
  shmkit_service_options o = shmkit_service_options_default();
  o.request_layout = &req;
  o.response_layout = &resp;
  shmkit_client *c;
  CHECK(shmkit_service_open_client(name, &o, &c));
  EXPECT(shmkit_client_max_request_len(c) == sizeof(add_req));
  for (uint32_t i = 0; i < 10; i++) {
    add_req r = {1000, i, 0};
    const void *data;
    size_t len;
    CHECK(shmkit_client_call(c, &r, sizeof r, WAIT, &data, &len));
    uint64_t sum;
    EXPECT(len == sizeof sum);
    memcpy(&sum, data, sizeof sum);
    EXPECT(sum == 1000 + i);
  }
  /* A request of another length than the struct. */
  uint64_t p;
  EXPECT_STATUS(shmkit_client_request(c, "short", 5, &p), SHMKIT_SIZE_INVALID);
  EXPECT_ERROR_MENTIONS(name);
  shmkit_client_close(c);

  /* Other structs, other tags, or none, are refused naming the service. */
  shmkit_client *bad = NULL;
  shmkit_layout wider = {sizeof(add_req) + 8, 8, "add v1"};
  shmkit_layout other_tag = {sizeof(add_req), 8, "add v2"};
  shmkit_layout small_resp = {4, 4, "add v1"};
  const shmkit_layout *wrong[][2] = {{&wider, &resp}, {&other_tag, &resp}, {&req, &small_resp}};
  for (size_t i = 0; i < 3; i++) {
    o.request_layout = wrong[i][0];
    o.response_layout = wrong[i][1];
    EXPECT_STATUS(shmkit_service_open_client(name, &o, &bad), SHMKIT_LAYOUT_MISMATCH);
    EXPECT_ERROR_MENTIONS(name);
  }
  /* A byte client may use a typed service, as in Rust (requests of another length are
   * dropped by the server). */
  CHECK(shmkit_service_open_client(name, NULL, &bad));
  shmkit_client_close(bad);
  bad = NULL;
  /* Only one of the two layouts is a misuse. */
  o.request_layout = &req;
  o.response_layout = NULL;
  EXPECT_STATUS(shmkit_service_open_client(name, &o, &bad), SHMKIT_INVALID_ARGUMENT);
  EXPECT(bad == NULL);
  /* Tell the server to stop (a typed request with b == UINT32_MAX). */
  o.response_layout = &resp;
  CHECK(shmkit_service_open_client(name, &o, &c));
  add_req stop = {0, UINT32_MAX, 0};
  CHECK(shmkit_client_request(c, &stop, sizeof stop, &p));
  const void *data;
  size_t len;
  CHECK(shmkit_client_wait(c, p, WAIT, &data, &len));
  shmkit_client_close(c);
  return 0;
}

static void clients_in_several_processes_are_served_by_a_server_process(void) {
  char name[64];
  unique_name(name, sizeof name, "svc");
  child_t server = spawn_self("server", name);
  child_t clients[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) clients[i] = spawn_self("client", name);
  for (int i = 0; i < CLIENTS; i++) EXPECT_CHILD_OK(clients[i]);
  shmkit_service_options o = shmkit_service_options_default();
  o.open_timeout_ns = WAIT;
  shmkit_client *c;
  CHECK(shmkit_service_open_client(name, &o, &c));
  EXPECT(strcmp(shmkit_client_name(c), name) == 0);
  EXPECT(shmkit_client_max_request_len(c) == 64);
  const void *data;
  size_t len;
  CHECK(shmkit_client_call(c, "stop", 4, WAIT, &data, &len));
  EXPECT(len == 4 && memcmp(data, "POTS", 4) == 0);
  shmkit_client_close(c);
  EXPECT_CHILD_OK(server);
}

static void a_client_killed_mid_request_frees_its_place(void) {
  char name[64];
  unique_name(name, sizeof name, "svckill");
  shmkit_service_options o = shmkit_service_options_default();
  o.max_clients = 1;
  shmkit_server *s;
  CHECK(shmkit_service_create_server(name, &o, &s));
  EXPECT(shmkit_server_is_creator(s));
  EXPECT(shmkit_server_max_clients(s) == 1);
  child_t child = spawn_self("request_and_hang", name);
  shmkit_request_handle h;
  const void *data;
  size_t len;
  CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));
  EXPECT(len == 10 && memcmp(data, "never read", 10) == 0);
  EXPECT(h.client_slot == 0);
  /* The only slot is taken by a live client. */
  shmkit_client *c = NULL;
  EXPECT_STATUS(shmkit_service_open_client(name, NULL, &c), SHMKIT_FULL);
  EXPECT_ERROR_MENTIONS(name);
  EXPECT(shmkit_last_error_value() == 1);
  kill_child(child);
  /* Answering the dead client does not trouble the server (the answer goes nowhere)... */
  (void)shmkit_server_respond(s, &h, "to nobody", 9);
  /* ...and the next client takes its place. */
  CHECK(shmkit_service_open_client(name, NULL, &c));
  EXPECT(shmkit_client_slot(c) == 0);
  uint64_t p;
  CHECK(shmkit_client_request(c, "hello", 5, &p));
  CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));
  EXPECT(len == 5 && memcmp(data, "hello", 5) == 0);
  EXPECT(h.id == p);
  CHECK(shmkit_server_respond(s, &h, "world", 5));
  /* Answered once: a second answer to the same handle is refused. */
  EXPECT_STATUS(shmkit_server_respond(s, &h, "again", 5), SHMKIT_NOT_OUTSTANDING);
  EXPECT(shmkit_last_error_value() == p);
  CHECK(shmkit_client_wait(c, p, WAIT, &data, &len));
  EXPECT(len == 5 && memcmp(data, "world", 5) == 0);
  shmkit_client_close(c);
  shmkit_server_close(s);
}

static void a_killed_server_disconnects_its_clients_and_a_new_one_serves_them_after_reconnect(void) {
  char name[64];
  unique_name(name, sizeof name, "svcrestart");
  child_t child = spawn_self("serve_and_hang", name);
  shmkit_service_options o = shmkit_service_options_default();
  o.open_timeout_ns = WAIT;
  shmkit_client *c;
  CHECK(shmkit_service_open_client(name, &o, &c));
  const void *data;
  size_t len;
  CHECK(shmkit_client_call(c, "ping", 4, WAIT, &data, &len));
  EXPECT(len == 4 && memcmp(data, "pong", 4) == 0);
  uint64_t p;
  CHECK(shmkit_client_request(c, "unanswered", 10, &p));
  /* A second server while the first lives is refused. */
  shmkit_server *s = NULL;
  EXPECT_STATUS(shmkit_service_create_server(name, NULL, &s), SHMKIT_IN_USE);
  EXPECT_ERROR_MENTIONS(name);
  kill_child(child);
  EXPECT_STATUS(shmkit_client_wait(c, p, WAIT, &data, &len), SHMKIT_DISCONNECTED);
  EXPECT_ERROR_MENTIONS(name);
  /* Nobody serves the name: a new client is told so. */
  shmkit_client *c2 = NULL;
  EXPECT_STATUS(shmkit_service_open_client(name, NULL, &c2), SHMKIT_DISCONNECTED);
  /* A new server takes the name over; the old client is told to reconnect. */
  CHECK(shmkit_service_create_server(name, NULL, &s));
  EXPECT(!shmkit_server_is_creator(s));
  EXPECT_STATUS(shmkit_client_request(c, "again", 5, &p), SHMKIT_DISCONNECTED);
  CHECK(shmkit_client_reconnect(c));
  EXPECT(shmkit_client_outstanding(c) == 0);
  CHECK(shmkit_client_request(c, "again", 5, &p));
  shmkit_request_handle h;
  CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));
  EXPECT(len == 5 && memcmp(data, "again", 5) == 0);
  CHECK(shmkit_server_respond(s, &h, "served", 6));
  CHECK(shmkit_client_wait(c, p, WAIT, &data, &len));
  EXPECT(len == 6 && memcmp(data, "served", 6) == 0);
  shmkit_client_close(c);
  /* The server that took over removes the names it serves. */
  shmkit_server_close(s);
  EXPECT_STATUS(shmkit_service_open_client(name, NULL, &c2), SHMKIT_NOT_FOUND);
}

static void typed_services_check_both_structs_across_processes(void) {
  char name[64];
  unique_name(name, sizeof name, "svctyped");
  shmkit_layout req = add_layout(), resp = sum_layout();
  shmkit_service_options o = shmkit_service_options_default();
  o.request_layout = &req;
  o.response_layout = &resp;
  o.max_request_len = 4096; /* ignored: the structs' sizes are the limits */
  shmkit_server *s;
  CHECK(shmkit_service_create_server(name, &o, &s));
  EXPECT(shmkit_server_max_request_len(s) == sizeof(add_req));
  EXPECT(shmkit_server_max_response_len(s) == sizeof(uint64_t));
  child_t child = spawn_self("typed_client", name);
  for (;;) {
    shmkit_request_handle h;
    const void *data;
    size_t len;
    CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));
    add_req r;
    EXPECT(len == sizeof r);
    memcpy(&r, data, sizeof r);
    uint64_t sum = r.a + r.b;
    /* A response of another length than the struct is refused. */
    EXPECT_STATUS(shmkit_server_respond(s, &h, &sum, 4), SHMKIT_SIZE_INVALID);
    CHECK(shmkit_server_respond(s, &h, &sum, sizeof sum));
    if (r.b == UINT32_MAX) break;
  }
  EXPECT_CHILD_OK(child);
  shmkit_server_close(s);
}

/* A shmkit_write_fn: writes "THREE" and counts its calls in *ctx. */
static void write_three(void *ctx, void *buf, size_t len) {
  EXPECT(len == 5);
  memcpy(buf, "THREE", 5);
  ++*(int *)ctx;
}

static void a_responder_answers_beside_the_server(void) {
  char name[64];
  unique_name(name, sizeof name, "svcresp");
  shmkit_server *s;
  CHECK(shmkit_service_create_server(name, NULL, &s));
  shmkit_responder *r;
  CHECK(shmkit_server_responder(s, &r));
  shmkit_client *c;
  CHECK(shmkit_service_open_client(name, NULL, &c));
  uint64_t p1, p2;
  CHECK(shmkit_client_request(c, "one", 3, &p1));
  CHECK(shmkit_client_request(c, "two", 3, &p2));
  shmkit_request_handle h1, h2;
  const void *data;
  size_t len;
  CHECK(shmkit_server_recv(s, WAIT, &h1, &data, &len));
  CHECK(shmkit_server_recv(s, WAIT, &h2, &data, &len));
  /* Answered in the other order, one through the responder (which may be on another thread). */
  CHECK(shmkit_responder_respond(r, &h2, "TWO", 3));
  EXPECT_STATUS(shmkit_server_respond(s, &h2, "TWO", 3), SHMKIT_NOT_OUTSTANDING);
  CHECK(shmkit_server_respond(s, &h1, "ONE", 3));
  EXPECT_STATUS(shmkit_responder_respond(r, &h1, "ONE", 3), SHMKIT_NOT_OUTSTANDING);
  EXPECT_STATUS(shmkit_responder_respond(NULL, &h1, "ONE", 3), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_client_wait(c, p1, WAIT, &data, &len));
  EXPECT(len == 3 && memcmp(data, "ONE", 3) == 0);
  CHECK(shmkit_client_wait(c, p2, WAIT, &data, &len));
  EXPECT(len == 3 && memcmp(data, "TWO", 3) == 0);
  CHECK(shmkit_client_release(c));

  /* Zero-copy both ways: a request written in place, a response written in place. */
  void *buf;
  uint64_t p3;
  EXPECT_STATUS(shmkit_client_commit(c, &p3), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_client_abort(c), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_client_loan(c, 5, &buf));
  memcpy(buf, "dropp", 5);
  CHECK(shmkit_client_abort(c)); /* sends nothing */
  CHECK(shmkit_client_loan(c, 5, &buf));
  /* A client holding a loan cannot be waited on in a wait set, nor released. */
  EXPECT_STATUS(shmkit_client_release(c), SHMKIT_INVALID_ARGUMENT);
  memcpy(buf, "three", 5);
  CHECK(shmkit_client_commit(c, &p3));
  CHECK(shmkit_server_recv(s, WAIT, &h1, &data, &len));
  EXPECT(len == 5 && memcmp(data, "three", 5) == 0 && h1.id == p3);
  EXPECT_STATUS(shmkit_server_recv(s, SHMKIT_TRY, &h2, &data, &len), SHMKIT_WOULD_BLOCK);
  EXPECT_STATUS(shmkit_server_respond_with(s, &h1, 5, NULL, NULL), SHMKIT_INVALID_ARGUMENT);
  int calls = 0;
  CHECK(shmkit_server_respond_with(s, &h1, 5, write_three, &calls));
  EXPECT(calls == 1);
  EXPECT_STATUS(shmkit_responder_respond_with(r, &h1, 5, write_three, &calls), SHMKIT_NOT_OUTSTANDING);
  EXPECT(calls == 1); /* not called when the answer is refused */
  CHECK(shmkit_client_wait(c, p3, WAIT, &data, &len));
  EXPECT(len == 5 && memcmp(data, "THREE", 5) == 0);
  /* A loan taken while a response is held releases it; one left is dropped by close. */
  CHECK(shmkit_client_loan(c, 4, &buf));
  EXPECT_STATUS(shmkit_client_release(c), SHMKIT_INVALID_ARGUMENT);
  uint64_t p4;
  CHECK(shmkit_client_request(c, "four", 4, &p4)); /* drops the loan unsent */
  CHECK(shmkit_server_recv(s, WAIT, &h2, &data, &len));
  EXPECT(len == 4 && h2.id == p4);
  CHECK(shmkit_responder_respond_with(r, &h2, 5, write_three, &calls));
  CHECK(shmkit_client_wait(c, p4, WAIT, &data, &len));
  EXPECT(len == 5 && calls == 2);
  CHECK(shmkit_client_loan(c, 4, &buf));
  shmkit_client_close(c);
  shmkit_server_close(s);
  shmkit_responder_close(r);
  shmkit_responder_close(NULL);
}

static void limits_misuse_and_timeouts_are_typed_errors(void) {
  char name[64];
  unique_name(name, sizeof name, "svclimits");
  shmkit_service_options o = shmkit_service_options_default();
  o.max_request_len = 8;
  o.max_response_len = 8;
  o.max_outstanding = 1;
  shmkit_server *s = NULL;
  /* Bad options create nothing. */
  o.wait_strategy = 7;
  EXPECT_STATUS(shmkit_service_create_server(name, &o, &s), SHMKIT_INVALID_ARGUMENT);
  o.wait_strategy = SHMKIT_WAIT_BLOCKING;
  o.max_clients = 0;
  EXPECT_STATUS(shmkit_service_create_server(name, &o, &s), SHMKIT_SIZE_INVALID);
  o.max_clients = 2;
  EXPECT_STATUS(shmkit_service_create_server("a/b", &o, &s), SHMKIT_NAME_INVALID);
  EXPECT_STATUS(shmkit_service_create_server(name, &o, NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT(s == NULL);
  shmkit_client *c = NULL;
  EXPECT_STATUS(shmkit_service_open_client(name, NULL, &c), SHMKIT_NOT_FOUND);
  EXPECT_ERROR_MENTIONS(name);
  CHECK(shmkit_service_create_server(name, &o, &s));
  CHECK(shmkit_service_open_client(name, NULL, &c));
  EXPECT(shmkit_client_max_outstanding(c) == 1);

  /* Timeouts: nothing to receive, nothing answered. */
  shmkit_request_handle h;
  const void *data;
  size_t len;
  EXPECT_STATUS(shmkit_server_recv(s, SHMKIT_TRY, &h, &data, &len), SHMKIT_WOULD_BLOCK);
  EXPECT_STATUS(shmkit_server_recv(s, SECOND / 20, &h, &data, &len), SHMKIT_TIMEOUT);
  EXPECT_ERROR_MENTIONS(name);
  /* A request over the maximum; too many outstanding. */
  uint64_t p, q;
  EXPECT_STATUS(shmkit_client_request(c, "123456789", 9, &p), SHMKIT_SIZE_INVALID);
  EXPECT_ERROR_MENTIONS(name);
  CHECK(shmkit_client_request(c, "12345678", 8, &p));
  EXPECT_STATUS(shmkit_client_request(c, "x", 1, &q), SHMKIT_FULL);
  EXPECT_STATUS(shmkit_client_wait(c, p, SHMKIT_TRY, &data, &len), SHMKIT_WOULD_BLOCK);
  EXPECT_STATUS(shmkit_client_wait(c, p, SECOND / 20, &data, &len), SHMKIT_TIMEOUT);
  /* Cancelled: no longer outstanding, and room for the next. */
  bool was = false;
  CHECK(shmkit_client_cancel(c, p, &was));
  EXPECT(was);
  CHECK(shmkit_client_cancel(c, p, &was));
  EXPECT(!was);
  EXPECT_STATUS(shmkit_client_wait(c, p, SHMKIT_TRY, &data, &len), SHMKIT_NOT_OUTSTANDING);
  CHECK(shmkit_client_request(c, "", 0, &q));
  CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len)); /* the cancelled one, still sent */
  EXPECT(h.id == p && len == 8);
  CHECK(shmkit_server_respond(s, &h, "dropped", 7));
  CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));
  EXPECT(h.id == q && len == 0);
  EXPECT_STATUS(shmkit_server_respond(s, &h, "123456789", 9), SHMKIT_SIZE_INVALID);
  CHECK(shmkit_server_respond(s, &h, "", 0));
  CHECK(shmkit_client_wait(c, q, WAIT, &data, &len));
  EXPECT(len == 0);
  /* A call that times out cancels its request. */
  EXPECT_STATUS(shmkit_client_call(c, "t", 1, SECOND / 20, &data, &len), SHMKIT_TIMEOUT);
  EXPECT(shmkit_client_outstanding(c) == 0);
  CHECK(shmkit_server_recv(s, WAIT, &h, &data, &len));

  /* Out of order and NULL: misuse, never a crash. */
  EXPECT_STATUS(shmkit_client_release(c), SHMKIT_INVALID_ARGUMENT);
  shmkit_request_handle forged = {1, 999};
  EXPECT_STATUS(shmkit_server_respond(s, &forged, "x", 1), SHMKIT_NOT_OUTSTANDING);
  EXPECT_STATUS(shmkit_server_respond(s, NULL, "x", 1), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_server_recv(NULL, 0, &h, &data, &len), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_server_recv(s, 0, NULL, &data, &len), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_client_request(NULL, "x", 1, &p), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_client_request(c, NULL, 1, &p), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_client_request(c, "x", 1, NULL), SHMKIT_INVALID_ARGUMENT);
  EXPECT_STATUS(shmkit_client_set_wait_strategy(c, -1), SHMKIT_INVALID_ARGUMENT);
  CHECK(shmkit_client_set_wait_strategy(c, SHMKIT_WAIT_BUSY_POLL));
  CHECK(shmkit_server_set_wait_strategy(s, SHMKIT_WAIT_ADAPTIVE));
  EXPECT(shmkit_client_slot(NULL) == 0 && strcmp(shmkit_server_name(NULL), "") == 0);
  shmkit_client_close(NULL);
  shmkit_server_close(NULL);
  shmkit_client_close(c);
  shmkit_server_close(s);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2) {
    if (strcmp(argv[1], "server") == 0) return child_server(argv[2]);
    if (strcmp(argv[1], "client") == 0) return child_client(argv[2]);
    if (strcmp(argv[1], "request_and_hang") == 0) return child_request_and_hang(argv[2]);
    if (strcmp(argv[1], "serve_and_hang") == 0) return child_serve_and_hang(argv[2]);
    if (strcmp(argv[1], "typed_client") == 0) return child_typed_client(argv[2]);
    FAIL("unknown role %s", argv[1]);
  }
  clients_in_several_processes_are_served_by_a_server_process();
  a_client_killed_mid_request_frees_its_place();
  a_killed_server_disconnects_its_clients_and_a_new_one_serves_them_after_reconnect();
  typed_services_check_both_structs_across_processes();
  a_responder_answers_beside_the_server();
  limits_misuse_and_timeouts_are_typed_errors();
  return 0;
}
