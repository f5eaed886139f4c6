// The C++ wrapper's kinds: mutex (owner death reported to the next locker and repaired through
// the guard), event, semaphore; channels and broadcasts (loans, messages in place, copies,
// typed sides and their layout check, lagged and disconnected); services and wait sets; with
// child processes on the other side (one holding the lock is killed).
#include "shmkit.hpp"

#include "harness.h"

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<shmkit::mutex_guard>, "guards are move-only");
static_assert(!std::is_copy_constructible_v<shmkit::producer_loan>, "loans are move-only");
static_assert(!std::is_copy_constructible_v<shmkit::consumer_message>, "messages too");

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

struct pose {
  std::uint64_t seq;
  double x, y;
};
struct other {
  std::uint32_t a;
};

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

// Sends 100 poses on a typed channel, the first ten copied, the rest through loans.
static int child_produce(const std::string &name) {
  shmkit::channel_options o;
  o.open_timeout_ns = 10'000'000'000;
  auto p = shmkit::typed_producer<pose>::open(name, "pose v1", o);
  for (std::uint64_t i = 0; i < 100; i++) {
    if (i < 10) {
      p.send(pose{i, double(i), -double(i)});
    } else {
      auto l = p.loan();
      l->seq = i;
      l->x = double(i);
      (*l).y = -double(i);
      l.commit();
    }
  }
  return 0;
}

// A client: calls the service three times, then once with a loan.
static int child_call(const std::string &name) {
  shmkit::service_options o;
  o.open_timeout_ns = 10'000'000'000;
  auto c = shmkit::client::open(name, o);
  for (int i = 0; i < 3; i++) {
    std::string q = "ping " + std::to_string(i);
    auto r = c.call(q);
    if (r.data().str() != "pong " + std::to_string(i)) FAIL("child got %.*s", (int)r.size(), (const char *)r.data().data());
  }
  auto l = c.loan(4);
  std::memcpy(l.data().data(), "loan", 4);
  std::uint64_t id = l.commit();
  auto r = c.wait_for(id, 10s);
  EXPECT(r && r->data().str() == "in place");
  return 0;
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

static void a_typed_channel_from_a_child() {
  std::string name = fresh("cppch");
  auto c = shmkit::typed_consumer<pose>::create(name, "pose v1");
  // Another struct, or the same with another tag, is refused naming both layouts.
  auto e = EXPECT_THROW(shmkit::layout_mismatch, SHMKIT_LAYOUT_MISMATCH,
                        shmkit::typed_producer<other>::open(name, "pose v1"));
  EXPECT(std::string(e.what()).find(name) != std::string::npos);
  EXPECT_THROW(shmkit::layout_mismatch, SHMKIT_LAYOUT_MISMATCH,
               shmkit::typed_producer<pose>::open(name, "pose v2"));
  child_t child = spawn_self("produce", name.c_str());
  for (std::uint64_t i = 0; i < 100; i++) {
    if (i % 2 == 0) {
      auto m = c.recv();  // in place
      EXPECT(m.count() == 1 && m->seq == i && (*m).x == double(i) && m[0].y == -double(i));
    } else {
      pose p = c.recv_value();  // copied out
      EXPECT(p.seq == i);
    }
  }
  EXPECT_CHILD_OK(child);
  // The producer is gone and everything was read.
  EXPECT_THROW(shmkit::disconnected, SHMKIT_DISCONNECTED, c.recv());
  EXPECT_THROW(shmkit::disconnected, SHMKIT_DISCONNECTED, c.try_recv());
}

static void byte_channels_loans_and_messages() {
  std::string name = fresh("cppbytes");
  shmkit::channel_options o;
  o.capacity = 4096;
  auto p = shmkit::producer::create(name, o);
  auto c = shmkit::consumer::open(name);
  EXPECT(p.is_creator() && !c.is_creator() && p.name() == name && c.capacity() == 4096);
  EXPECT(!c.try_recv());
  EXPECT(!c.recv_for(5ms));
  p.send("hello");
  {
    auto l = p.loan(5);
    std::memcpy(l.data().data(), "world", 5);
    l.commit(5);
  }
  {
    auto l = p.loan(8);  // destroyed uncommitted: aborted, nothing sent
  }
  {
    auto l = p.try_loan(3);
    EXPECT(l.has_value());
    std::memcpy(l->data().data(), "abc", 3);
    l->commit();
    EXPECT_THROW(shmkit::error, SHMKIT_INVALID_ARGUMENT, l->commit());  // once
  }
  auto m1 = c.recv();
  EXPECT(m1.data().str() == "hello");
  auto m2 = c.recv();  // releases m1 (its destructor then does nothing)
  EXPECT(m2.data().str() == "world");
  EXPECT_THROW(shmkit::error, SHMKIT_INVALID_ARGUMENT, m1.release());
  m2.release();
  char small[2];
  EXPECT_THROW(shmkit::error, SHMKIT_SIZE_INVALID, c.recv_into(shmkit::bytes(small, 2)));
  EXPECT(c.pending_size() == 3);  // kept, not lost
  char buf[16];
  auto n = c.try_recv_into(shmkit::bytes(buf, sizeof buf));
  EXPECT(n && *n == 3 && std::memcmp(buf, "abc", 3) == 0);
  EXPECT(!c.try_recv_into(shmkit::bytes(buf, sizeof buf)));
  EXPECT_THROW(shmkit::error, SHMKIT_SIZE_INVALID, p.send(std::string(5000, 'x')));
  // A full ring: try_send says so.
  std::string big(p.max_message_len(), 'y');
  int sent = 0;
  while (sent < 10 && p.try_send(big)) sent++;
  EXPECT(sent >= 1 && sent < 10);
  EXPECT(!p.send_for(big, 5ms));  // an outcome, not an exception
  // A wait set sees the consumer ready (a message) and the full producer not.
  shmkit::wait_set ws;
  std::size_t pi = ws.add(p), ci = ws.add(c);
  auto ready = ws.wait_for(1s);
  EXPECT(ready && ready->size() == 1 && (*ready)[0] == ci);
  (void)pi;
  EXPECT(c.recv().size() == big.size());
  EXPECT(p.send_for(big, 1s));
  p.set_wait_strategy(shmkit::wait_strategy::blocking);
}

static void broadcasts_lag_and_disconnect() {
  std::string name = fresh("cppbc");
  shmkit::broadcast_options o;
  o.slots = 4;
  o.slot_size = 64;
  o.policy = SHMKIT_POLICY_OVERWRITE;
  auto pub = shmkit::publisher::create(name, o);
  auto sub = shmkit::subscriber::open(name);
  EXPECT(pub.subscribers() == 1 && *pub.wait_for_subscribers_for(1, 1s) == 1);
  for (int i = 0; i < 10; i++) pub.send(std::to_string(i));
  EXPECT(pub.published() == 10);
  auto lag = EXPECT_THROW(shmkit::lagged, SHMKIT_LAGGED, sub.recv());
  EXPECT(lag.value() == 6);  // 4 slots kept the last 4
  auto m = sub.recv();
  EXPECT(m.data().str() == "6");
  m.release();
  EXPECT(sub.recv().data().str() == "7");
  EXPECT(sub.recv().data().str() == "8");
  EXPECT(sub.recv().data().str() == "9");
  auto l = pub.loan(1);
  l.data()[0] = std::byte('z');
  l.commit();
  { shmkit::publisher gone = std::move(pub); }
  EXPECT(sub.recv().data().str() == "z");  // still readable after the publisher is gone
  EXPECT_THROW(shmkit::disconnected, SHMKIT_DISCONNECTED, sub.recv());

  // Typed: a subscriber with another struct is refused.
  std::string tname = fresh("cppbct");
  auto tp = shmkit::typed_publisher<pose>::create(tname, "pose v1");
  EXPECT_THROW(shmkit::layout_mismatch, SHMKIT_LAYOUT_MISMATCH,
               shmkit::typed_subscriber<other>::open(tname, "pose v1"));
  auto ts = shmkit::typed_subscriber<pose>::open(tname, "pose v1");
  tp.send(pose{7, 1.5, 2.5});
  auto tl = tp.loan();
  tl->seq = 8;
  tl.commit();
  shmkit::wait_set ws;
  EXPECT(ws.add(ts) == 0 && ws.wait_for(1s));
  EXPECT(ts.recv()->x == 1.5);
  EXPECT(ts.try_recv_value()->seq == 8);
  EXPECT(!ts.try_recv());
}

static void services_and_wait_sets() {
  std::string name = fresh("cppsvc");
  auto srv = shmkit::server::create(name);
  EXPECT(srv.is_creator() && srv.name() == name);
  EXPECT(!srv.try_recv());
  child_t child = spawn_self("call", name.c_str());
  for (int i = 0; i < 3; i++) {
    shmkit::request q = srv.recv();
    EXPECT(q.data.str() == "ping " + std::to_string(i));
    if (i == 1) {
      // From another thread, through a responder.
      auto r = srv.responder();
      std::thread t([&] { r.respond(q.handle, "pong 1"); });
      t.join();
    } else {
      srv.respond(q.handle, "pong " + std::to_string(i));
    }
  }
  auto q = srv.recv_for(10s);
  EXPECT(q && q->data.str() == "loan");
  srv.respond_with(q->handle, 8, [](shmkit::bytes b) { std::memcpy(b.data(), "in place", 8); });
  EXPECT_THROW(shmkit::error, SHMKIT_NOT_OUTSTANDING, srv.respond(q->handle, "again"));
  EXPECT_CHILD_OK(child);

  // A wait set over the server and a client of it; a call that times out is not an error.
  auto c = shmkit::client::open(name);
  shmkit::wait_set ws;
  std::size_t si = ws.add(srv), ci = ws.add(c);
  EXPECT(ws.size() == 2 && si == 0 && ci == 1);
  EXPECT(!ws.try_wait());
  std::uint64_t id = c.request("hello");
  EXPECT(c.outstanding() == 1);
  auto ready = ws.wait_for(5s);
  EXPECT(ready && ready->size() == 1 && (*ready)[0] == si);
  auto req = srv.recv();
  EXPECT(!c.try_wait(id));
  srv.respond(req.handle, "world");
  ready = ws.wait_for(5s);
  EXPECT(ready && (*ready)[0] == ci);
  auto resp = c.wait(id);
  EXPECT(resp.data().str() == "world");
  resp.release();
  // Events and semaphores join the same wait set.
  auto ev = shmkit::event::create(name + "-ev", shmkit::reset::automatic);
  auto sem = shmkit::semaphore::create(name + "-sem", 0);
  std::size_t ei = ws.add(ev), mi = ws.add(sem);
  EXPECT(!ws.try_wait());
  sem.post();
  ready = ws.wait_for(5s);
  EXPECT(ready && ready->size() == 1 && (*ready)[0] == mi);
  EXPECT(sem.try_wait());
  ev.set();
  ready = ws.wait_for(5s);
  EXPECT(ready && ready->size() == 1 && (*ready)[0] == ei);
  EXPECT(ev.try_wait());
  EXPECT(!ws.try_wait());
  EXPECT(!c.call_for("nobody answers", 20ms));
  EXPECT(c.outstanding() == 0);  // cancelled by call_for
  std::uint64_t id2 = c.request("x");
  EXPECT(c.cancel(id2) && !c.cancel(id2));
  // The server goes: the client is told.
  { shmkit::server gone = std::move(srv); }
  EXPECT_THROW(shmkit::disconnected, SHMKIT_DISCONNECTED, c.request("anyone?"));
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  try {
    if (argc > 2 && std::strcmp(argv[1], "hold") == 0) return child_hold(argv[2]);
    if (argc > 2 && std::strcmp(argv[1], "produce") == 0) return child_produce(argv[2]);
    if (argc > 2 && std::strcmp(argv[1], "call") == 0) return child_call(argv[2]);
    a_dead_holder_is_reported_and_repaired();
    events_and_semaphores();
    a_typed_channel_from_a_child();
    byte_channels_loans_and_messages();
    broadcasts_lag_and_disconnect();
    services_and_wait_sets();
  } catch (const shmkit::error &e) {
    FAIL("unexpected %s: %s", e.status_name(), e.what());
  } catch (const std::exception &e) {
    FAIL("unexpected exception: %s", e.what());
  }
  return 0;
}
