/* The harness itself, on every OS it runs on (Linux, macOS, Windows under Wine): children get
 * their arguments, report their exit code, and can be killed. */
#include "harness.h"

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
  if (argc > 1 && strcmp(argv[1], "hang") == 0) {
    for (;;) sleep_ms(1000);
  }
  EXPECT_CHILD_OK(spawn_self("exit", "0"));
  EXPECT(wait_child(spawn_self("exit", "3")) == 3);
  child_t c = spawn_self("hang", NULL);
  sleep_ms(50);
  kill_child(c); /* returns once the child is gone */
  char a[64], b[64];
  unique_name(a, sizeof a, "x");
  unique_name(b, sizeof b, "x");
  EXPECT(strcmp(a, b) != 0);
  return 0;
}
