// The C++ wrapper's synchronisation kinds: mutex (owner death reported to the next locker and
// repaired through the guard), event, semaphore; a child process holds the lock and is killed.
#include "shmkit.hpp"

#include "harness.h"

#include <chrono>
#include <cstring>
#include <string>
#include <type_traits>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<shmkit::mutex_guard>, "guards are move-only");

template <class E, class F>
static const E expect_throw(F f, shmkit_status status, int line) {
  try {
    f();
  } catch (const E &e) {
    if (e.status() != status)
      FAIL("line %d: status %s, expected %s (%s)", line, e.status_name(),
           shmkit_status_name(status), e.what());
    return e;
  } catch (const std::exception &e) {
    FAIL("line %d: unexpected exception %s", line, e.what());
  }
  FAIL("line %d: no exception", line);
}
#define EXPECT_THROW(E, status, ...) expect_throw<E>([&] { __VA_ARGS__; }, status, __LINE__)

static std::string fresh(const char *what) {
  char n[64];
  unique_name(n, sizeof n, what);
  return n;
}

// ---- children

// Locks the mutex and the segment, half-writes the counter, signals, and hangs (killed).
static int child_hold(const std::string &name) {
  auto m = shmkit::mutex::open(name);
  auto g = m.lock();
  auto ev = shmkit::event::open(name + "-held");
  ev.set();
  for (;;) sleep_ms(1000);
}

// ---- tests

static void a_dead_holder_is_reported_and_repaired() {
  std::string name = fresh("cppmx");
  auto m = shmkit::mutex::create(name);
  auto held = shmkit::event::create(name + "-held", shmkit::reset::manual);
  child_t c = spawn_self("hold", name.c_str());
  held.wait();
  EXPECT(!m.try_lock());  // the child holds it
  kill_child(c);
  {
    auto g = m.lock();
    EXPECT(g.owner_died() && g.needs_repair());
    g.make_consistent();
    EXPECT(!g.needs_repair());
  }  // unlocked by the destructor, repaired
  auto g = m.try_lock_for(1s);
  EXPECT(g && !g->owner_died());
  // This thread holds it through this handle already.
  EXPECT_THROW(shmkit::error, SHMKIT_DEADLOCK, m.try_lock());
  g->unlock();
  EXPECT(!g->owns_lock());
  // A moved mutex keeps working, and so does a guard taken before the move.
  auto g2 = m.lock();
  shmkit::mutex m2 = std::move(m);
  g2.unlock();
  EXPECT(m2.try_lock().has_value());
}

static void events_and_semaphores() {
  std::string name = fresh("cppev");
  auto ev = shmkit::event::create(name, shmkit::reset::automatic);
  EXPECT(ev.reset_kind() == shmkit::reset::automatic && ev.is_creator());
  EXPECT(!ev.try_wait());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT(!ev.wait_for(20ms));  // an outcome, not an exception
  EXPECT(std::chrono::steady_clock::now() - t0 >= 15ms);
  auto other = shmkit::event::open(name);
  other.set();
  EXPECT(ev.is_set());
  ev.wait();
  EXPECT(!ev.is_set());  // automatic: reset by the wait

  std::string sname = fresh("cppsem");
  shmkit::semaphore_options so;
  so.initial = 1;
  so.max = 2;
  auto sem = shmkit::semaphore::create(sname, so);
  EXPECT(sem.value() == 1 && sem.max() == 2);
  EXPECT(sem.try_wait());
  EXPECT(!sem.try_wait());
  EXPECT(!sem.wait_for(10ms));
  sem.post();
  sem.post();
  EXPECT_THROW(shmkit::full, SHMKIT_FULL, sem.post());
  sem.wait();
  EXPECT(sem.value() == 1);
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  try {
    if (argc > 2 && std::strcmp(argv[1], "hold") == 0) return child_hold(argv[2]);
    a_dead_holder_is_reported_and_repaired();
    events_and_semaphores();
  } catch (const shmkit::error &e) {
    FAIL("unexpected %s: %s", e.status_name(), e.what());
  } catch (const std::exception &e) {
    FAIL("unexpected exception: %s", e.what());
  }
  return 0;
}
