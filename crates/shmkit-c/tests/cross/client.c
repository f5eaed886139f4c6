/*
 * The C end of tests/cross.rs's service test: a typed client of a Rust typed service.
 *
 *   client NAME COUNT
 *
 * The service adds two numbers: request `struct add { uint64_t a, b; }`, response `uint64_t`,
 * tag "add v1" (Rust: `service::typed::<[u64; 2], u64>().tag("add v1")`). First checks that
 * a request struct of another layout is refused (SHMKIT_LAYOUT_MISMATCH), then makes COUNT
 * calls, alternately copied and written in place, with two requests outstanding at a time.
 */
#include "harness.h"

#include <stdint.h>

typedef struct {
  uint64_t a, b;
} add;

typedef struct {
  uint32_t a, b;
} add_v0; /* an older, narrower request */

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc < 3) FAIL("usage: client NAME COUNT");
  uint64_t count = strtoull(argv[2], NULL, 10);

  shmkit_service_options o = shmkit_service_options_default();
  o.open_timeout_ns = 30000000000LL;
  shmkit_layout resp = {sizeof(uint64_t), _Alignof(uint64_t), "add v1"};
  shmkit_layout old = {sizeof(add_v0), _Alignof(add_v0), "add v1"};
  o.request_layout = &old;
  o.response_layout = &resp;
  shmkit_client *c = NULL;
  EXPECT_STATUS(shmkit_service_open_client(argv[1], &o, &c), SHMKIT_LAYOUT_MISMATCH);
  EXPECT_ERROR_MENTIONS("add v1 request");

  shmkit_layout req = {sizeof(add), _Alignof(add), "add v1"};
  o.request_layout = &req;
  CHECK(shmkit_service_open_client(argv[1], &o, &c));
  for (uint64_t i = 0; i + 1 < count; i += 2) {
    uint64_t p[2];
    add first = {i, 1000};
    CHECK(shmkit_client_request(c, &first, sizeof first, &p[0]));
    void *loan;
    CHECK(shmkit_client_loan(c, sizeof(add), &loan));
    add *second = loan;
    second->a = i + 1;
    second->b = 1000;
    CHECK(shmkit_client_commit(c, &p[1]));
    /* Answers are waited for in the opposite order. */
    for (int k = 1; k >= 0; k--) {
      const void *data;
      size_t len;
      CHECK(shmkit_client_wait(c, p[k], SHMKIT_FOREVER, &data, &len));
      EXPECT(len == sizeof(uint64_t));
      uint64_t sum;
      memcpy(&sum, data, sizeof sum);
      if (sum != i + (uint64_t)k + 1000) FAIL("call %llu: %llu", (unsigned long long)(i + k), (unsigned long long)sum);
    }
  }
  shmkit_client_close(c);
  return 0;
}
