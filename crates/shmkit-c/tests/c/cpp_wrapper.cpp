// The C++ wrapper (shmkit.hpp): RAII handles, exceptions with the C status and message,
// bytes views, durations; a child process on the other side.
#include "shmkit.hpp"

#include "harness.h"

#include <chrono>
#include <cstring>
#include <string>
#include <type_traits>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<shmkit::segment>, "handles are move-only");
static_assert(std::is_nothrow_move_constructible_v<shmkit::segment>, "and cheap to move");
static_assert(std::is_convertible_v<shmkit::bytes, shmkit::const_bytes>, "bytes are const_bytes");
static_assert(!std::is_convertible_v<shmkit::const_bytes, shmkit::bytes>, "not the other way");

// Runs `f`, which must throw E with `status`; returns its message.
template <class E, class F>
static std::string expect_throw(F f, shmkit_status status, int line) {
  try {
    f();
  } catch (const E &e) {
    if (e.status() != status)
      FAIL("line %d: status %s, expected %s", line, e.status_name(), shmkit_status_name(status));
    return e.what();
  } catch (const std::exception &e) {
    FAIL("line %d: unexpected exception %s", line, e.what());
  }
  FAIL("line %d: no exception", line);
}
#define EXPECT_THROW(E, status, ...) expect_throw<E>([&] { __VA_ARGS__; }, status, __LINE__)

static const char MESSAGE[] = "Message from the server process.";

static int child(const std::string &name) {
  auto seg = shmkit::segment::open(name);
  auto v = seg.map(shmkit::access::read_write);
  char buf[sizeof MESSAGE];
  v.read(0, shmkit::bytes(buf, sizeof buf));
  EXPECT(std::memcmp(buf, MESSAGE, sizeof MESSAGE) == 0);
  v.write(100, std::string("ok"));
  return 0;
}

static void segments_views_and_a_child() {
  char n[64];
  unique_name(n, sizeof n, "cppseg");
  std::string name = n;
  auto seg = shmkit::segment::create(name, 4096);
  EXPECT(seg.is_creator());
  EXPECT(seg.size() == 4096);
  EXPECT(seg.name() == name);
  shmkit::view v = seg.map();
  EXPECT(v.size() == 4096 && v.access() == shmkit::access::read_write);
  shmkit::bytes b = v.data();
  std::memcpy(b.data(), MESSAGE, sizeof MESSAGE);  // in place
  EXPECT_CHILD_OK(spawn_self("child", name.c_str()));
  EXPECT(b.subspan(100, 2).str() == "ok");
  shmkit::const_bytes cb = b;  // a read-only look at the same bytes
  EXPECT(cb.size() == 4096 && cb[100] == std::byte('o'));
  // A range, and moving handles around keeps them valid.
  shmkit::view r = seg.map(shmkit::access::read_only, 100, 2);
  shmkit::view moved = std::move(r);
  EXPECT(moved.data().str() == "ok");
  shmkit::segment other = std::move(seg);
  EXPECT(other.name() == name);
  // The creator's destruction removes the name; the views stay valid.
  { shmkit::segment gone = std::move(other); }
  EXPECT(v.data().subspan(100, 2).str() == "ok");
  std::string m = EXPECT_THROW(shmkit::not_found, SHMKIT_NOT_FOUND, shmkit::segment::open(name));
  EXPECT(m.find(name) != std::string::npos);
}

static void errors_are_typed_exceptions() {
  char n[64];
  unique_name(n, sizeof n, "cpperr");
  std::string name = n;
  EXPECT_THROW(shmkit::error, SHMKIT_SIZE_INVALID, shmkit::segment::create(name, 0));
  EXPECT_THROW(shmkit::error, SHMKIT_NAME_INVALID, shmkit::segment::create("a/b", 64));
  auto seg = shmkit::segment::create(name, 64);
  std::string m = EXPECT_THROW(shmkit::already_exists, SHMKIT_ALREADY_EXISTS,
                               shmkit::segment::create(name, 64));
  EXPECT(m.find(name) != std::string::npos);
  EXPECT_THROW(shmkit::error, SHMKIT_SIZE_INVALID, seg.map(shmkit::access::read_write, 60, 8));
  shmkit::view ro = seg.map(shmkit::access::read_only);
  EXPECT_THROW(shmkit::error, SHMKIT_ACCESS_MISMATCH, ro.write(0, "x"));
  char buf[8];
  EXPECT_THROW(shmkit::error, SHMKIT_SIZE_INVALID, ro.read(60, shmkit::bytes(buf, 8)));
  // An open that waits for the segment to appear gives up with not_found.
  char n2[64];
  unique_name(n2, sizeof n2, "cppwait");
  shmkit::segment_options o;
  o.open_timeout_ns = 20'000'000;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(shmkit::not_found, SHMKIT_NOT_FOUND, shmkit::segment::open(n2, o));
  EXPECT(std::chrono::steady_clock::now() - t0 >= 15ms);
  // Every shmkit::error is a std::runtime_error.
  try {
    shmkit::segment::open(n2);
    FAIL("no exception");
  } catch (const std::runtime_error &e) {
    EXPECT(std::strstr(e.what(), n2) != nullptr);
  }
}

static void timeouts_from_durations() {
  using shmkit::detail::timeout_ns;
  EXPECT(timeout_ns(0ms) == SHMKIT_TRY);
  EXPECT(timeout_ns(-5s) == SHMKIT_TRY);  // never "forever"
  EXPECT(timeout_ns(1500us) == 1'500'000);
  EXPECT(timeout_ns(std::chrono::duration<double>(0.25)) == 250'000'000);
  EXPECT(timeout_ns(std::chrono::hours(1'000'000'000)) == INT64_MAX);
  EXPECT(timeout_ns(std::chrono::duration<double, std::nano>(0.1)) == 1);
}

static void file_mappings() {
  char n[64];
  unique_name(n, sizeof n, "cppfile");
#ifdef _WIN32
  std::string path = std::string(n) + ".bin";
#else
  std::string path = std::string("/tmp/") + n + ".bin";
#endif
  {
    auto f = shmkit::file_mapping::create(path, 8192);
    EXPECT(f.size() == 8192 && f.path() == path);
    auto v = f.map();
    v.write(4000, "flushed");
    v.flush();
    v.flush(4000, 7);
    EXPECT_THROW(shmkit::already_exists, SHMKIT_ALREADY_EXISTS,
                 shmkit::file_mapping::create(path, 8192));
  }
  shmkit::file_options ro;
  ro.read_only = true;
  auto f = shmkit::file_mapping::open(path, ro);
  auto v = f.map(shmkit::access::read_only, 4000, 7);
  EXPECT(v.data().str() == "flushed");
  std::remove(path.c_str());
}

int main(int argc, char **argv) {
  harness_argv0 = argv[0];
  if (argc > 2 && std::strcmp(argv[1], "child") == 0) {
    try {
      return child(argv[2]);
    } catch (const std::exception &e) {
      FAIL("child: %s", e.what());
    }
  }
  try {
    segments_views_and_a_child();
    errors_are_typed_exceptions();
    timeouts_from_durations();
    file_mappings();
  } catch (const std::exception &e) {
    FAIL("unexpected exception: %s", e.what());
  }
  return 0;
}
