/*
 * shmkit: fast, safe inter-process communication over named shared memory. The C++17 API.
 *
 * A header-only wrapper over the C API (shmkit.h; link with -lshmkit_c, or CMake's
 * shmkit::shmkit). Everything is in namespace shmkit; crates/shmkit-c/README.md has a quick
 * start. Written by hand (shmkit.h is generated).
 *
 * Design:
 *
 *  - Errors are exceptions: shmkit::error (a std::runtime_error whose what() is the C API's
 *    shmkit_last_error(), naming the object), with status(), value() (the number some errors
 *    carry: messages missed for lagged, …) and os_error(); common statuses have a subclass to
 *    catch: not_found, already_exists, timeout, disconnected, lagged, layout_mismatch,
 *    corrupt, in_use, full. Exceptions, because the handles are RAII types whose constructors
 *    (the factories) cannot return a result, and C++17 has no std::expected.
 *  - Expected outcomes of a wait are not exceptions: a try_x() form returns std::optional (or
 *    bool) that is empty when nothing was ready, an x_for(duration) form the same when the
 *    time ran out; the blocking x() form returns the value.
 *  - Handles are move-only RAII classes closing their C handle in the destructor; the static
 *    factories are named like the Rust API: segment::create(name, size),
 *    segment::open(name), file_mapping::open_or_create(path, options), ... native() gives
 *    the C handle, to mix in C calls.
 *  - Options are the C options structs with their defaults filled in (a segment_options is a
 *    shmkit_segment_options made by shmkit_segment_options_default()): set the fields.
 *  - Bytes: C++17 has no std::span, so shared memory is seen through shmkit::bytes (mutable)
 *    and shmkit::const_bytes (read-only): a pointer and a size with begin()/end(), size(),
 *    operator[], subspan() and, for const_bytes, str() as a std::string_view. Calls that copy
 *    bytes in take a const_bytes, which a std::string_view, a std::string or a string literal
 *    converts to.
 *  - Timeouts are std::chrono durations; a zero or negative one is a try.
 *  - Thread safety and pointer lifetimes are the C API's (see shmkit.h and the README): a
 *    handle is used by one thread at a time unless a method says otherwise, and a loan's or
 *    received message's bytes are valid until the call that ends them or the handle's
 *    destruction.
 */
#ifndef SHMKIT_HPP
#define SHMKIT_HPP

#include "shmkit.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace shmkit {

// ---------------------------------------------------------------------------------------
// Errors

/// A failed call: the C API's status, its message (what(): what failed, with the object's
/// name), the number it carries (value()) and the OS error code (os_error(), for io).
class error : public std::runtime_error {
 public:
  error(shmkit_status status, const std::string &message, std::uint64_t value = 0,
        std::int32_t os = 0)
      : std::runtime_error(message), status_(status), value_(value), os_(os) {}
  /// The status code (SHMKIT_NOT_FOUND, …).
  shmkit_status status() const noexcept { return status_; }
  /// The status code's name ("SHMKIT_NOT_FOUND").
  const char *status_name() const noexcept { return shmkit_status_name(status_); }
  /// Messages missed (lagged), the holder's pid (in_use), the limit (full), …; else 0.
  std::uint64_t value() const noexcept { return value_; }
  /// The OS error code of an SHMKIT_IO error, else 0.
  std::int32_t os_error() const noexcept { return os_; }

 private:
  shmkit_status status_;
  std::uint64_t value_;
  std::int32_t os_;
};

#define SHMKIT_HPP_ERROR(cls)                                                                \
  class cls : public error {                                                                 \
   public:                                                                                   \
    using error::error;                                                                      \
  }
/// SHMKIT_NOT_FOUND: no object of that name (yet).
SHMKIT_HPP_ERROR(not_found);
/// SHMKIT_ALREADY_EXISTS: create found the name taken.
SHMKIT_HPP_ERROR(already_exists);
/// SHMKIT_TIMEOUT: a timeout ran out where it is an error, not an outcome.
SHMKIT_HPP_ERROR(timeout);
/// SHMKIT_DISCONNECTED: the other side is gone.
SHMKIT_HPP_ERROR(disconnected);
/// SHMKIT_LAGGED: a subscriber lost value() messages.
SHMKIT_HPP_ERROR(lagged);
/// SHMKIT_LAYOUT_MISMATCH: the object carries another message type.
SHMKIT_HPP_ERROR(layout_mismatch);
/// SHMKIT_CORRUPT: not a valid shmkit object, or damaged.
SHMKIT_HPP_ERROR(corrupt);
/// SHMKIT_IN_USE: a live process holds the role (value(): its recorded pid).
SHMKIT_HPP_ERROR(in_use);
/// SHMKIT_FULL: a limit is reached (value(): the limit).
SHMKIT_HPP_ERROR(full);
#undef SHMKIT_HPP_ERROR

namespace detail {

/// Throws the exception for a failed status, with the thread's last error.
[[noreturn]] inline void throw_status(shmkit_status s) {
  std::string m = shmkit_last_error();
  std::uint64_t v = shmkit_last_error_value();
  std::int32_t os = shmkit_last_error_os();
  switch (s) {
    case SHMKIT_NOT_FOUND: throw not_found(s, m, v, os);
    case SHMKIT_ALREADY_EXISTS: throw already_exists(s, m, v, os);
    case SHMKIT_TIMEOUT: throw timeout(s, m, v, os);
    case SHMKIT_DISCONNECTED: throw disconnected(s, m, v, os);
    case SHMKIT_LAGGED: throw lagged(s, m, v, os);
    case SHMKIT_LAYOUT_MISMATCH: throw layout_mismatch(s, m, v, os);
    case SHMKIT_CORRUPT: throw corrupt(s, m, v, os);
    case SHMKIT_IN_USE: throw in_use(s, m, v, os);
    case SHMKIT_FULL: throw full(s, m, v, os);
    default: throw error(s, m, v, os);
  }
}

/// The call must succeed.
inline void check(shmkit_status s) {
  if (s != SHMKIT_OK) throw_status(s);
}

/// A wait's outcome: true if done, false if nothing was ready in time (SHMKIT_WOULD_BLOCK,
/// SHMKIT_TIMEOUT); anything else throws.
inline bool check_wait(shmkit_status s) {
  if (s == SHMKIT_OK) return true;
  if (s == SHMKIT_WOULD_BLOCK || s == SHMKIT_TIMEOUT) return false;
  throw_status(s);
}

/// A duration as a timeout_ns: a zero or negative one is SHMKIT_TRY (never SHMKIT_FOREVER),
/// a huge one saturates.
template <class Rep, class Period>
std::int64_t timeout_ns(std::chrono::duration<Rep, Period> d) {
  using namespace std::chrono;
  if (d <= d.zero()) return SHMKIT_TRY;
  using fns = duration<long double, std::nano>;
  long double ns = duration_cast<fns>(d).count();
  if (ns >= static_cast<long double>(std::numeric_limits<std::int64_t>::max()))
    return std::numeric_limits<std::int64_t>::max();
  std::int64_t n = static_cast<std::int64_t>(ns);
  return n < 1 ? 1 : n;
}

/// A C handle owned by a unique_ptr that calls its close function.
template <class T, void (*Close)(T *)>
struct closer {
  void operator()(T *p) const noexcept { Close(p); }
};
template <class T, void (*Close)(T *)>
using owned = std::unique_ptr<T, closer<T, Close>>;

/// Runs a C factory with an out-parameter and owns what it made.
template <class T, void (*Close)(T *), class F>
owned<T, Close> make(F &&f) {
  T *p = nullptr;
  check(f(&p));
  return owned<T, Close>(p);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// Bytes

/// A span of bytes in shared memory (or a buffer): a pointer and a size. B is std::byte
/// (bytes, writable) or const std::byte (const_bytes). It owns nothing: it is valid as long
/// as what it points into (a view, a loan, a received message).
template <class B>
class basic_bytes {
 public:
  using value_type = std::remove_const_t<B>;
  using pointer = B *;
  using iterator = B *;

  constexpr basic_bytes() noexcept = default;
  constexpr basic_bytes(B *data, std::size_t size) noexcept : data_(data), size_(size) {}
  /// From any pointer (void *, char *, a struct's address) and a size in bytes.
  template <class P, class = std::enable_if_t<std::is_const_v<B> || !std::is_const_v<P>>>
  basic_bytes(P *data, std::size_t size) noexcept
      : data_(static_cast<B *>(static_cast<std::conditional_t<std::is_const_v<P>, const void, void> *>(data))),
        size_(size) {}
  /// A writable span is also a read-only one.
  template <class C, class = std::enable_if_t<std::is_const_v<B> && !std::is_const_v<C> &&
                                              std::is_same_v<std::remove_const_t<B>, C>>>
  constexpr basic_bytes(basic_bytes<C> b) noexcept : data_(b.data()), size_(b.size()) {}
  /// Read-only bytes from a string's characters (not its NUL).
  template <class S, class = std::enable_if_t<std::is_const_v<B> &&
                                              std::is_convertible_v<const S &, std::string_view>>>
  basic_bytes(const S &s) noexcept {  // NOLINT: implicit on purpose, as std::span's
    std::string_view v = s;
    data_ = reinterpret_cast<B *>(v.data());
    size_ = v.size();
  }

  B *data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  B *begin() const noexcept { return data_; }
  B *end() const noexcept { return data_ + size_; }
  B &operator[](std::size_t i) const noexcept { return data_[i]; }
  /// `count` bytes from `offset` (to the end by default); throws std::out_of_range outside.
  basic_bytes subspan(std::size_t offset, std::size_t count = std::size_t(-1)) const {
    if (offset > size_) throw std::out_of_range("shmkit::bytes::subspan: offset past the end");
    std::size_t n = count == std::size_t(-1) ? size_ - offset : count;
    if (n > size_ - offset) throw std::out_of_range("shmkit::bytes::subspan: past the end");
    return basic_bytes(data_ + offset, n);
  }
  /// The bytes as characters (the string is not copied).
  std::string_view str() const noexcept {
    return std::string_view(reinterpret_cast<const char *>(data_), size_);
  }

 private:
  B *data_ = nullptr;
  std::size_t size_ = 0;
};

/// Writable bytes (a view, a loan).
using bytes = basic_bytes<std::byte>;
/// Read-only bytes (a received message; what a send copies in).
using const_bytes = basic_bytes<const std::byte>;

// ---------------------------------------------------------------------------------------
// Segments, file mappings and views

/// How a view may be accessed (shmkit_access).
enum class access : std::int32_t {
  read_only = SHMKIT_READ_ONLY,
  read_write = SHMKIT_READ_WRITE,
  copy_on_write = SHMKIT_COPY_ON_WRITE,
};

/// A mapped range of a segment or file (shmkit_view). It stays valid after the segment or
/// file mapping it came from is gone.
class view {
 public:
  explicit view(shmkit_view *v) noexcept : h_(v) {}
  /// The mapped bytes (writing them on a read-only view is an access violation). Other
  /// processes may change them at any time: read them under a lock or protocol, or copy
  /// with read(). Thread safety: any thread.
  bytes data() const noexcept {
    return bytes(shmkit_view_data(h_.get()), shmkit_view_len(h_.get()));
  }
  std::size_t size() const noexcept { return shmkit_view_len(h_.get()); }
  shmkit::access access() const noexcept {
    return static_cast<shmkit::access>(shmkit_view_access(h_.get()));
  }
  /// Copies into `out` from `offset` (atomic loads: a concurrent writer gives mixed bytes,
  /// never undefined behaviour); throws SHMKIT_SIZE_INVALID outside the view.
  void read(std::size_t offset, bytes out) const {
    detail::check(shmkit_view_read(h_.get(), offset, out.data(), out.size()));
  }
  /// Copies `in` to `offset` (atomic stores).
  void write(std::size_t offset, const_bytes in) {
    detail::check(shmkit_view_write(h_.get(), offset, in.data(), in.size()));
  }
  /// Writes a file view's changes to disk and waits (a no-op for a segment).
  void flush() const { detail::check(shmkit_view_flush(h_.get())); }
  void flush(std::size_t offset, std::size_t len) const {
    detail::check(shmkit_view_flush_range(h_.get(), offset, len));
  }
  shmkit_view *native() const noexcept { return h_.get(); }

 private:
  detail::owned<shmkit_view, shmkit_view_close> h_;
};

/// Options of segment's factories: shmkit_segment_options with its defaults.
struct segment_options : shmkit_segment_options {
  segment_options() noexcept : shmkit_segment_options(shmkit_segment_options_default()) {}
};

/// A named shared memory segment (shmkit_segment). The creator removes the name when
/// destroyed, unless kept.
class segment {
 public:
  /// Creates segment `name` of `size` bytes; already_exists if the name is taken.
  static segment create(const std::string &name, std::size_t size) {
    segment_options o;
    o.size = size;
    return create(name, o);
  }
  static segment create(const std::string &name, const segment_options &o) {
    return segment(detail::make<shmkit_segment, shmkit_segment_close>(
        [&](shmkit_segment **out) { return shmkit_segment_create(name.c_str(), &o, out); }));
  }
  /// Opens segment `name`; not_found if there is none (o.open_timeout_ns to wait for it).
  static segment open(const std::string &name, const segment_options &o = segment_options()) {
    return segment(detail::make<shmkit_segment, shmkit_segment_close>(
        [&](shmkit_segment **out) { return shmkit_segment_open(name.c_str(), &o, out); }));
  }
  /// Opens segment `name`, or creates it with o.size bytes; is_creator() tells which.
  static segment open_or_create(const std::string &name, const segment_options &o) {
    return segment(detail::make<shmkit_segment, shmkit_segment_close>([&](shmkit_segment **out) {
      return shmkit_segment_open_or_create(name.c_str(), &o, out);
    }));
  }
  /// Removes the name (processes that have it keep their memory); not_found if none.
  static void remove(const std::string &name) {
    detail::check(shmkit_segment_remove(name.c_str()));
  }

  std::string_view name() const noexcept { return shmkit_segment_name(h_.get()); }
  std::size_t size() const noexcept { return shmkit_segment_len(h_.get()); }
  bool is_creator() const noexcept { return shmkit_segment_is_creator(h_.get()); }
  /// Whether the creator leaves the name in place when destroyed.
  void set_keep(bool keep) { detail::check(shmkit_segment_set_keep(h_.get(), keep)); }
  /// Maps the whole segment.
  shmkit::view map(access a = access::read_write) const {
    shmkit_view *v = nullptr;
    detail::check(shmkit_segment_map(h_.get(), static_cast<std::int32_t>(a), &v));
    return shmkit::view(v);
  }
  /// Maps `len` bytes from `offset` (any offset).
  shmkit::view map(access a, std::size_t offset, std::size_t len) const {
    shmkit_view *v = nullptr;
    detail::check(shmkit_segment_map_range(h_.get(), static_cast<std::int32_t>(a), offset, len, &v));
    return shmkit::view(v);
  }
  shmkit_segment *native() const noexcept { return h_.get(); }

 private:
  explicit segment(detail::owned<shmkit_segment, shmkit_segment_close> h) : h_(std::move(h)) {}
  detail::owned<shmkit_segment, shmkit_segment_close> h_;
};

/// Options of file_mapping's factories: shmkit_file_options with its defaults.
struct file_options : shmkit_file_options {
  file_options() noexcept : shmkit_file_options(shmkit_file_options_default()) {}
};

/// A file that can be mapped (shmkit_file); flush a read-write view with view::flush().
class file_mapping {
 public:
  /// Creates the file at `path` with `size` zeroed bytes; already_exists if it exists.
  static file_mapping create(const std::string &path, std::size_t size) {
    file_options o;
    o.size = size;
    return create(path, o);
  }
  static file_mapping create(const std::string &path, const file_options &o) {
    return file_mapping(detail::make<shmkit_file, shmkit_file_close>(
        [&](shmkit_file **out) { return shmkit_file_create(path.c_str(), &o, out); }));
  }
  static file_mapping open(const std::string &path, const file_options &o = file_options()) {
    return file_mapping(detail::make<shmkit_file, shmkit_file_close>(
        [&](shmkit_file **out) { return shmkit_file_open(path.c_str(), &o, out); }));
  }
  static file_mapping open_or_create(const std::string &path, const file_options &o) {
    return file_mapping(detail::make<shmkit_file, shmkit_file_close>(
        [&](shmkit_file **out) { return shmkit_file_open_or_create(path.c_str(), &o, out); }));
  }

  std::string_view path() const noexcept { return shmkit_file_path(h_.get()); }
  std::size_t size() const noexcept { return shmkit_file_len(h_.get()); }
  shmkit::view map(access a = access::read_write) const {
    shmkit_view *v = nullptr;
    detail::check(shmkit_file_map(h_.get(), static_cast<std::int32_t>(a), &v));
    return shmkit::view(v);
  }
  shmkit::view map(access a, std::size_t offset, std::size_t len) const {
    shmkit_view *v = nullptr;
    detail::check(shmkit_file_map_range(h_.get(), static_cast<std::int32_t>(a), offset, len, &v));
    return shmkit::view(v);
  }
  shmkit_file *native() const noexcept { return h_.get(); }

 private:
  explicit file_mapping(detail::owned<shmkit_file, shmkit_file_close> h) : h_(std::move(h)) {}
  detail::owned<shmkit_file, shmkit_file_close> h_;
};

// ---------------------------------------------------------------------------------------
// What the sides of channels, broadcasts and services share

/// How a blocked side waits (shmkit_wait_strategy).
enum class wait_strategy : std::int32_t {
  /// Spin about a µs, yield a while, then sleep. The default.
  adaptive = SHMKIT_WAIT_ADAPTIVE,
  /// Sleep at once (least CPU).
  blocking = SHMKIT_WAIT_BLOCKING,
  /// Never sleep: spin until ready (lowest latency, burns a core).
  busy_poll = SHMKIT_WAIT_BUSY_POLL,
};

namespace detail {

/// A side's C handle and a counter of its loans and messages: a loan or message object
/// acts only while it is the side's latest (the C API ends the previous message at the next
/// recv), so a stale one's destructor does nothing. Heap-allocated: the side may move.
template <class Tr>
struct side_state {
  explicit side_state(typename Tr::handle *handle) noexcept : h(handle) {}
  side_state(const side_state &) = delete;
  side_state &operator=(const side_state &) = delete;
  ~side_state() { Tr::close(h); }
  typename Tr::handle *h;
  std::uint64_t gen = 0;
};

template <class Tr>
using state_ptr = std::unique_ptr<side_state<Tr>>;

template <class Tr, class F>
state_ptr<Tr> make_side(F &&f) {
  typename Tr::handle *h = nullptr;
  check(f(&h));
  return state_ptr<Tr>(new side_state<Tr>(h));
}

/// A layout for the C options, from a type and a tag (alive for the call).
template <class T>
shmkit_layout layout_of(const std::string &tag) {
  return shmkit_layout{sizeof(T), alignof(T), tag.empty() ? nullptr : tag.c_str()};
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// Mutex, event, semaphore

/// Options of mutex's factories: shmkit_mutex_options with its defaults.
struct mutex_options : shmkit_mutex_options {
  mutex_options() noexcept : shmkit_mutex_options(shmkit_mutex_options_default()) {}
};

class mutex;

/// The lock on a shmkit::mutex, held until it is destroyed or unlocked (as
/// std::unique_lock). owner_died() says the previous holder died holding it: repair what the
/// mutex protects, then make_consistent(), or the unlock makes the mutex unrecoverable for
/// everyone (unlock_unrepaired() leaves the repair to the next holder instead). Move-only;
/// used by the thread that locked. The mutex must outlive it.
class mutex_guard {
 public:
  mutex_guard(mutex_guard &&o) noexcept : m_(std::exchange(o.m_, nullptr)), died_(o.died_) {}
  mutex_guard &operator=(mutex_guard &&o) noexcept {
    if (this != &o) {
      release();
      m_ = std::exchange(o.m_, nullptr);
      died_ = o.died_;
    }
    return *this;
  }
  ~mutex_guard() { release(); }
  /// Whether the lock was taken from a holder that died holding it.
  bool owner_died() const noexcept { return died_; }
  /// Whether the owner death is not repaired yet (make_consistent() not called).
  bool needs_repair() const noexcept { return m_ && shmkit_mutex_needs_repair(m_); }
  /// Declares what the mutex protects repaired; the lock stays held.
  void make_consistent() { detail::check(shmkit_mutex_make_consistent(m_)); }
  /// Unlocks now (after an unrepaired owner death: the mutex becomes unrecoverable).
  void unlock() { detail::check(shmkit_mutex_unlock(std::exchange(m_, nullptr))); }
  /// Unlocks leaving an owner death for the next holder to repair.
  void unlock_unrepaired() {
    detail::check(shmkit_mutex_unlock_unrepaired(std::exchange(m_, nullptr)));
  }
  /// Whether this guard still holds the lock.
  bool owns_lock() const noexcept { return m_ != nullptr; }
  explicit operator bool() const noexcept { return owns_lock(); }

 private:
  friend class mutex;
  mutex_guard(shmkit_mutex *m, bool died) noexcept : m_(m), died_(died) {}
  void release() noexcept {
    if (m_) (void)shmkit_mutex_unlock(std::exchange(m_, nullptr));
  }
  shmkit_mutex *m_;
  bool died_;
};

/// A named, robust mutex shared between processes (shmkit_mutex): a holder that dies is
/// reported to the next locker (mutex_guard::owner_died()). The lock lives in this handle:
/// lock it from one thread at a time (give each thread its own mutex handle).
class mutex {
 public:
  static mutex create(const std::string &name, const mutex_options &o = mutex_options()) {
    return mutex(detail::make<shmkit_mutex, shmkit_mutex_close>(
        [&](shmkit_mutex **out) { return shmkit_mutex_create(name.c_str(), &o, out); }));
  }
  static mutex open(const std::string &name, const mutex_options &o = mutex_options()) {
    return mutex(detail::make<shmkit_mutex, shmkit_mutex_close>(
        [&](shmkit_mutex **out) { return shmkit_mutex_open(name.c_str(), &o, out); }));
  }
  static mutex open_or_create(const std::string &name, const mutex_options &o = mutex_options()) {
    return mutex(detail::make<shmkit_mutex, shmkit_mutex_close>(
        [&](shmkit_mutex **out) { return shmkit_mutex_open_or_create(name.c_str(), &o, out); }));
  }

  /// Waits for the lock. Throws error SHMKIT_UNRECOVERABLE (an owner death was unlocked
  /// unrepaired), SHMKIT_DEADLOCK (this thread holds it already).
  mutex_guard lock() {
    std::optional<mutex_guard> g = lock_ns(SHMKIT_FOREVER);
    if (!g) throw error(SHMKIT_OTHER, "shmkit::mutex::lock: a wait without a limit gave up");
    return std::move(*g);
  }
  /// The lock if it is free now.
  std::optional<mutex_guard> try_lock() { return lock_ns(SHMKIT_TRY); }
  /// The lock if it comes within `d`.
  template <class Rep, class Period>
  std::optional<mutex_guard> try_lock_for(std::chrono::duration<Rep, Period> d) {
    return lock_ns(detail::timeout_ns(d));
  }

  std::string_view name() const noexcept { return shmkit_mutex_name(h_.get()); }
  bool is_creator() const noexcept { return shmkit_mutex_is_creator(h_.get()); }
  shmkit_mutex *native() const noexcept { return h_.get(); }

 private:
  explicit mutex(detail::owned<shmkit_mutex, shmkit_mutex_close> h) : h_(std::move(h)) {}
  std::optional<mutex_guard> lock_ns(std::int64_t ns) {
    shmkit_status s = shmkit_mutex_lock(h_.get(), ns);
    if (s == SHMKIT_OK || s == SHMKIT_OWNER_DIED) return mutex_guard(h_.get(), s == SHMKIT_OWNER_DIED);
    if (s == SHMKIT_WOULD_BLOCK || s == SHMKIT_TIMEOUT) return std::nullopt;
    detail::throw_status(s);
  }
  detail::owned<shmkit_mutex, shmkit_mutex_close> h_;
};

/// How an event resets (shmkit_reset).
enum class reset : std::int32_t {
  /// One waiter passes and the event resets itself.
  automatic = SHMKIT_RESET_AUTO,
  /// The event stays set until reset(); every waiter passes.
  manual = SHMKIT_RESET_MANUAL,
};

/// Options of event's factories: shmkit_event_options with its defaults.
struct event_options : shmkit_event_options {
  event_options() noexcept : shmkit_event_options(shmkit_event_options_default()) {}
  explicit event_options(shmkit::reset r) noexcept : event_options() {
    reset = static_cast<std::int32_t>(r);
  }
};

/// A named event (shmkit_event): one process sets it, others wait for it. Every method may
/// be called from any thread.
class event {
 public:
  static event create(const std::string &name, shmkit::reset r) {
    return create(name, event_options(r));
  }
  static event create(const std::string &name, const event_options &o) {
    return event(detail::make<shmkit_event, shmkit_event_close>(
        [&](shmkit_event **out) { return shmkit_event_create(name.c_str(), &o, out); }));
  }
  static event open(const std::string &name, const event_options &o = event_options()) {
    return event(detail::make<shmkit_event, shmkit_event_close>(
        [&](shmkit_event **out) { return shmkit_event_open(name.c_str(), &o, out); }));
  }
  static event open_or_create(const std::string &name, const event_options &o) {
    return event(detail::make<shmkit_event, shmkit_event_close>(
        [&](shmkit_event **out) { return shmkit_event_open_or_create(name.c_str(), &o, out); }));
  }

  void set() const { detail::check(shmkit_event_set(h_.get())); }
  void reset() const { detail::check(shmkit_event_reset(h_.get())); }
  bool is_set() const noexcept { return shmkit_event_is_set(h_.get()); }
  /// Waits until the event is set.
  void wait() const { detail::check(shmkit_event_wait(h_.get(), SHMKIT_FOREVER)); }
  /// Whether it is set now (an automatic event is reset by this).
  bool try_wait() const { return detail::check_wait(shmkit_event_wait(h_.get(), SHMKIT_TRY)); }
  /// Whether it was set within `d`.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    return detail::check_wait(shmkit_event_wait(h_.get(), detail::timeout_ns(d)));
  }
  shmkit::reset reset_kind() const noexcept {
    return static_cast<shmkit::reset>(shmkit_event_reset_kind(h_.get()));
  }
  std::string_view name() const noexcept { return shmkit_event_name(h_.get()); }
  bool is_creator() const noexcept { return shmkit_event_is_creator(h_.get()); }
  shmkit_event *native() const noexcept { return h_.get(); }

 private:
  explicit event(detail::owned<shmkit_event, shmkit_event_close> h) : h_(std::move(h)) {}
  detail::owned<shmkit_event, shmkit_event_close> h_;
};

/// Options of semaphore's factories: shmkit_semaphore_options with its defaults.
struct semaphore_options : shmkit_semaphore_options {
  semaphore_options() noexcept : shmkit_semaphore_options(shmkit_semaphore_options_default()) {}
};

/// A named counting semaphore (shmkit_semaphore). Every method may be called from any thread.
class semaphore {
 public:
  /// Creates semaphore `name` holding `initial` permits.
  static semaphore create(const std::string &name, std::uint32_t initial) {
    semaphore_options o;
    o.initial = initial;
    return create(name, o);
  }
  static semaphore create(const std::string &name, const semaphore_options &o) {
    return semaphore(detail::make<shmkit_semaphore, shmkit_semaphore_close>(
        [&](shmkit_semaphore **out) { return shmkit_semaphore_create(name.c_str(), &o, out); }));
  }
  static semaphore open(const std::string &name, const semaphore_options &o = semaphore_options()) {
    return semaphore(detail::make<shmkit_semaphore, shmkit_semaphore_close>(
        [&](shmkit_semaphore **out) { return shmkit_semaphore_open(name.c_str(), &o, out); }));
  }
  static semaphore open_or_create(const std::string &name, const semaphore_options &o) {
    return semaphore(detail::make<shmkit_semaphore, shmkit_semaphore_close>([&](shmkit_semaphore **out) {
      return shmkit_semaphore_open_or_create(name.c_str(), &o, out);
    }));
  }

  /// Adds a permit (throws shmkit::full at the maximum).
  void post() const { detail::check(shmkit_semaphore_post(h_.get())); }
  /// Takes a permit, waiting for one.
  void wait() const { detail::check(shmkit_semaphore_wait(h_.get(), SHMKIT_FOREVER)); }
  /// Takes a permit if there is one now.
  bool try_wait() const {
    return detail::check_wait(shmkit_semaphore_wait(h_.get(), SHMKIT_TRY));
  }
  /// Takes a permit if one comes within `d`.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    return detail::check_wait(shmkit_semaphore_wait(h_.get(), detail::timeout_ns(d)));
  }
  std::uint32_t value() const noexcept { return shmkit_semaphore_value(h_.get()); }
  std::uint32_t max() const noexcept { return shmkit_semaphore_max(h_.get()); }
  std::string_view name() const noexcept { return shmkit_semaphore_name(h_.get()); }
  bool is_creator() const noexcept { return shmkit_semaphore_is_creator(h_.get()); }
  shmkit_semaphore *native() const noexcept { return h_.get(); }

 private:
  explicit semaphore(detail::owned<shmkit_semaphore, shmkit_semaphore_close> h)
      : h_(std::move(h)) {}
  detail::owned<shmkit_semaphore, shmkit_semaphore_close> h_;
};

// ---------------------------------------------------------------------------------------
// Loans and received messages (shared by channels and broadcasts)

namespace detail {

struct producer_traits {
  using handle = shmkit_producer;
  static void close(handle *h) { shmkit_producer_close(h); }
  static shmkit_status loan(handle *h, std::size_t n, std::int64_t t, void **d) {
    return shmkit_producer_loan(h, n, t, d);
  }
  static shmkit_status commit(handle *h, std::size_t n) { return shmkit_producer_commit(h, n); }
  static shmkit_status abort(handle *h) { return shmkit_producer_abort(h); }
  static shmkit_status send(handle *h, const void *d, std::size_t n, std::int64_t t) {
    return shmkit_producer_send(h, d, n, t);
  }
};
struct consumer_traits {
  using handle = shmkit_consumer;
  static void close(handle *h) { shmkit_consumer_close(h); }
  static shmkit_status recv(handle *h, std::int64_t t, const void **d, std::size_t *n) {
    return shmkit_consumer_recv(h, t, d, n);
  }
  static shmkit_status release(handle *h) { return shmkit_consumer_release(h); }
  static shmkit_status recv_into(handle *h, void *b, std::size_t cap, std::size_t *n,
                                 std::int64_t t) {
    return shmkit_consumer_recv_into(h, b, cap, n, t);
  }
};
struct publisher_traits {
  using handle = shmkit_publisher;
  static void close(handle *h) { shmkit_publisher_close(h); }
  static shmkit_status loan(handle *h, std::size_t n, std::int64_t t, void **d) {
    return shmkit_publisher_loan(h, n, t, d);
  }
  static shmkit_status commit(handle *h, std::size_t n) { return shmkit_publisher_commit(h, n); }
  static shmkit_status abort(handle *h) { return shmkit_publisher_abort(h); }
  static shmkit_status send(handle *h, const void *d, std::size_t n, std::int64_t t) {
    return shmkit_publisher_send(h, d, n, t);
  }
};
struct subscriber_traits {
  using handle = shmkit_subscriber;
  static void close(handle *h) { shmkit_subscriber_close(h); }
  static shmkit_status recv(handle *h, std::int64_t t, const void **d, std::size_t *n) {
    return shmkit_subscriber_recv(h, t, d, n);
  }
  static shmkit_status release(handle *h) { return shmkit_subscriber_release(h); }
  static shmkit_status recv_into(handle *h, void *b, std::size_t cap, std::size_t *n,
                                 std::int64_t t) {
    return shmkit_subscriber_recv_into(h, b, cap, n, t);
  }
};

}  // namespace detail

/// A loan of space in a channel's ring or a broadcast's slot: write the message into data(),
/// then commit() (or abort()); destroyed uncommitted, it is aborted. Move-only; the side it
/// came from must outlive it, and lends one at a time.
template <class Tr>
class basic_loan {
 public:
  basic_loan(basic_loan &&o) noexcept
      : s_(std::exchange(o.s_, nullptr)), gen_(o.gen_), bytes_(o.bytes_) {}
  basic_loan &operator=(basic_loan &&o) noexcept {
    if (this != &o) {
      end();
      s_ = std::exchange(o.s_, nullptr);
      gen_ = o.gen_;
      bytes_ = o.bytes_;
    }
    return *this;
  }
  ~basic_loan() { end(); }
  /// The loaned bytes (8-byte aligned), valid until commit, abort or the side's close.
  bytes data() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  /// Publishes the first `len` bytes (all of them by default).
  void commit(std::size_t len) {
    detail::check(Tr::commit(take(), len));
  }
  void commit() { commit(bytes_.size()); }
  /// Gives the space back unsent.
  void abort() { detail::check(Tr::abort(take())); }

 protected:
  template <class>
  friend class basic_sender;
  basic_loan(detail::side_state<Tr> *s, bytes b) noexcept : s_(s), gen_(s->gen), bytes_(b) {}
  typename Tr::handle *take() {
    if (!s_ || s_->gen != gen_) throw error(SHMKIT_INVALID_ARGUMENT, "shmkit: this loan has ended");
    return std::exchange(s_, nullptr)->h;
  }
  void end() noexcept {
    if (s_ && s_->gen == gen_) (void)Tr::abort(s_->h);
    s_ = nullptr;
  }
  detail::side_state<Tr> *s_;
  std::uint64_t gen_;
  bytes bytes_;
};

/// A message received in place: data() is valid until release(), the destruction of this
/// object, the side's next recv (which releases it) or the side's close. Move-only.
template <class Tr>
class basic_message {
 public:
  basic_message(basic_message &&o) noexcept
      : s_(std::exchange(o.s_, nullptr)), gen_(o.gen_), bytes_(o.bytes_) {}
  basic_message &operator=(basic_message &&o) noexcept {
    if (this != &o) {
      end();
      s_ = std::exchange(o.s_, nullptr);
      gen_ = o.gen_;
      bytes_ = o.bytes_;
    }
    return *this;
  }
  ~basic_message() { end(); }
  /// The message's bytes in shared memory. A hostile writer could change them: copy out
  /// (recv_into) and validate when the sender is not trusted.
  const_bytes data() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  /// Gives the space back to the sender now.
  void release() {
    if (!s_ || s_->gen != gen_) throw error(SHMKIT_INVALID_ARGUMENT, "shmkit: this message was released");
    detail::check(Tr::release(std::exchange(s_, nullptr)->h));
  }

 protected:
  template <class>
  friend class basic_receiver;
  basic_message(detail::side_state<Tr> *s, const_bytes b) noexcept
      : s_(s), gen_(s->gen), bytes_(b) {}
  void end() noexcept {
    if (s_ && s_->gen == gen_) (void)Tr::release(s_->h);
    s_ = nullptr;
  }
  detail::side_state<Tr> *s_;
  std::uint64_t gen_;
  const_bytes bytes_;
};

/// What producers and publishers share: send (copy) and loan, in the four wait forms.
template <class Tr>
class basic_sender {
 public:
  using traits = Tr;
  using loan_type = basic_loan<Tr>;
  /// Copies `msg` in, waiting for room. Throws disconnected if the other side is gone.
  void send(const_bytes msg) { detail::check(send_ns(msg, SHMKIT_FOREVER)); }
  /// Copies `msg` in if there is room now.
  bool try_send(const_bytes msg) { return detail::check_wait(send_ns(msg, SHMKIT_TRY)); }
  /// Copies `msg` in if there is room within `d`.
  template <class Rep, class Period>
  bool send_for(const_bytes msg, std::chrono::duration<Rep, Period> d) {
    return detail::check_wait(send_ns(msg, detail::timeout_ns(d)));
  }
  /// Loans `len` bytes, waiting for room.
  loan_type loan(std::size_t len) {
    std::optional<loan_type> l = loan_ns(len, SHMKIT_FOREVER);
    if (!l) throw error(SHMKIT_OTHER, "shmkit: a wait without a limit gave up");
    return std::move(*l);
  }
  std::optional<loan_type> try_loan(std::size_t len) { return loan_ns(len, SHMKIT_TRY); }
  template <class Rep, class Period>
  std::optional<loan_type> loan_for(std::size_t len, std::chrono::duration<Rep, Period> d) {
    return loan_ns(len, detail::timeout_ns(d));
  }
  typename Tr::handle *native() const noexcept { return s_->h; }

 protected:
  explicit basic_sender(detail::state_ptr<Tr> s) noexcept : s_(std::move(s)) {}
  shmkit_status send_ns(const_bytes msg, std::int64_t ns) {
    return Tr::send(s_->h, msg.data(), msg.size(), ns);
  }
  std::optional<loan_type> loan_ns(std::size_t len, std::int64_t ns) {
    void *p = nullptr;
    if (!detail::check_wait(Tr::loan(s_->h, len, ns, &p))) return std::nullopt;
    ++s_->gen;
    return loan_type(s_.get(), bytes(p, len));
  }
  detail::state_ptr<Tr> s_;
};

/// What consumers and subscribers share: recv in place and recv_into, in the four wait forms.
template <class Tr>
class basic_receiver {
 public:
  using traits = Tr;
  using message_type = basic_message<Tr>;
  /// The next message, in place; waits for one. Throws disconnected once the sender is gone
  /// and everything was received; lagged (value(): how many) when a subscriber lost messages.
  message_type recv() {
    std::optional<message_type> m = recv_ns(SHMKIT_FOREVER);
    if (!m) throw error(SHMKIT_OTHER, "shmkit: a wait without a limit gave up");
    return std::move(*m);
  }
  std::optional<message_type> try_recv() { return recv_ns(SHMKIT_TRY); }
  template <class Rep, class Period>
  std::optional<message_type> recv_for(std::chrono::duration<Rep, Period> d) {
    return recv_ns(detail::timeout_ns(d));
  }
  /// Copies the next message into `buf` and returns its length. One longer than the buffer
  /// throws error SHMKIT_SIZE_INVALID (value() unset; pending_size() says how long) and is
  /// kept for the next recv.
  std::size_t recv_into(bytes buf) { return *recv_into_ns(buf, SHMKIT_FOREVER); }
  std::optional<std::size_t> try_recv_into(bytes buf) { return recv_into_ns(buf, SHMKIT_TRY); }
  template <class Rep, class Period>
  std::optional<std::size_t> recv_into_for(bytes buf, std::chrono::duration<Rep, Period> d) {
    return recv_into_ns(buf, detail::timeout_ns(d));
  }
  typename Tr::handle *native() const noexcept { return s_->h; }

 protected:
  explicit basic_receiver(detail::state_ptr<Tr> s) noexcept : s_(std::move(s)) {}
  std::optional<message_type> recv_ns(std::int64_t ns) {
    const void *p = nullptr;
    std::size_t n = 0;
    ++s_->gen;  // the C call releases the message held, if any
    if (!detail::check_wait(Tr::recv(s_->h, ns, &p, &n))) return std::nullopt;
    return message_type(s_.get(), const_bytes(p, n));
  }
  std::optional<std::size_t> recv_into_ns(bytes buf, std::int64_t ns) {
    std::size_t n = 0;
    ++s_->gen;
    if (!detail::check_wait(Tr::recv_into(s_->h, buf.data(), buf.size(), &n, ns)))
      return std::nullopt;
    return n;
  }
  detail::state_ptr<Tr> s_;
};

// ---------------------------------------------------------------------------------------
// Channels: one producer, one consumer

/// Options of the channel factories: shmkit_channel_options with its defaults.
struct channel_options : shmkit_channel_options {
  channel_options() noexcept : shmkit_channel_options(shmkit_channel_options_default()) {}
};

using producer_loan = basic_loan<detail::producer_traits>;
using consumer_message = basic_message<detail::consumer_traits>;

/// The producer side of a channel (shmkit_producer): a single-producer single-consumer ring
/// of byte messages. Used by one thread at a time.
class producer : public basic_sender<detail::producer_traits> {
 public:
  static producer create(const std::string &name, const channel_options &o = channel_options()) {
    return verb(name, o, shmkit_channel_create_producer);
  }
  static producer open(const std::string &name, const channel_options &o = channel_options()) {
    return verb(name, o, shmkit_channel_open_producer);
  }
  static producer open_or_create(const std::string &name,
                                 const channel_options &o = channel_options()) {
    return verb(name, o, shmkit_channel_open_or_create_producer);
  }
  std::string_view name() const noexcept { return shmkit_producer_name(s_->h); }
  std::size_t capacity() const noexcept { return shmkit_producer_capacity(s_->h); }
  std::size_t max_message_len() const noexcept { return shmkit_producer_max_message_len(s_->h); }
  bool is_creator() const noexcept { return shmkit_producer_is_creator(s_->h); }
  void set_wait_strategy(shmkit::wait_strategy w) {
    detail::check(shmkit_producer_set_wait_strategy(s_->h, static_cast<std::int32_t>(w)));
  }

 protected:
  using verb_fn = shmkit_status (*)(const char *, const shmkit_channel_options *,
                                    shmkit_producer **);
  explicit producer(detail::state_ptr<detail::producer_traits> s) noexcept
      : basic_sender(std::move(s)) {}
  static producer verb(const std::string &name, const shmkit_channel_options &o, verb_fn f) {
    return producer(detail::make_side<detail::producer_traits>(
        [&](shmkit_producer **out) { return f(name.c_str(), &o, out); }));
  }
};

/// The consumer side of a channel (shmkit_consumer). Used by one thread at a time.
class consumer : public basic_receiver<detail::consumer_traits> {
 public:
  static consumer create(const std::string &name, const channel_options &o = channel_options()) {
    return verb(name, o, shmkit_channel_create_consumer);
  }
  static consumer open(const std::string &name, const channel_options &o = channel_options()) {
    return verb(name, o, shmkit_channel_open_consumer);
  }
  static consumer open_or_create(const std::string &name,
                                 const channel_options &o = channel_options()) {
    return verb(name, o, shmkit_channel_open_or_create_consumer);
  }
  std::string_view name() const noexcept { return shmkit_consumer_name(s_->h); }
  std::size_t capacity() const noexcept { return shmkit_consumer_capacity(s_->h); }
  bool is_creator() const noexcept { return shmkit_consumer_is_creator(s_->h); }
  /// The length of the message held (in place, or kept by a too-small recv_into); 0 if none.
  std::size_t pending_size() const noexcept { return shmkit_consumer_len(s_->h); }
  void set_wait_strategy(shmkit::wait_strategy w) {
    detail::check(shmkit_consumer_set_wait_strategy(s_->h, static_cast<std::int32_t>(w)));
  }

 protected:
  using verb_fn = shmkit_status (*)(const char *, const shmkit_channel_options *,
                                    shmkit_consumer **);
  explicit consumer(detail::state_ptr<detail::consumer_traits> s) noexcept
      : basic_receiver(std::move(s)) {}
  static consumer verb(const std::string &name, const shmkit_channel_options &o, verb_fn f) {
    return consumer(detail::make_side<detail::consumer_traits>(
        [&](shmkit_consumer **out) { return f(name.c_str(), &o, out); }));
  }
};

// ---------------------------------------------------------------------------------------
// Broadcasts: one publisher, many subscribers

/// What a publisher does when a subscriber falls a whole ring behind (shmkit_policy).
enum class policy : std::int32_t {
  /// The publisher waits for the slowest live subscriber. The default.
  block = SHMKIT_POLICY_BLOCK,
  /// The publisher overwrites; the lapped subscriber gets lagged.
  overwrite = SHMKIT_POLICY_OVERWRITE,
};

/// Options of the broadcast factories: shmkit_broadcast_options with its defaults.
struct broadcast_options : shmkit_broadcast_options {
  broadcast_options() noexcept : shmkit_broadcast_options(shmkit_broadcast_options_default()) {}
};

using publisher_loan = basic_loan<detail::publisher_traits>;
using subscriber_message = basic_message<detail::subscriber_traits>;

/// The publisher of a broadcast (shmkit_publisher). Used by one thread at a time.
class publisher : public basic_sender<detail::publisher_traits> {
 public:
  static publisher create(const std::string &name,
                          const broadcast_options &o = broadcast_options()) {
    return publisher(detail::make_side<detail::publisher_traits>([&](shmkit_publisher **out) {
      return shmkit_broadcast_create_publisher(name.c_str(), &o, out);
    }));
  }
  std::string_view name() const noexcept { return shmkit_publisher_name(s_->h); }
  std::size_t max_message_len() const noexcept {
    return shmkit_publisher_max_message_len(s_->h);
  }
  /// Messages published so far.
  std::uint64_t published() const noexcept { return shmkit_publisher_published(s_->h); }
  /// Subscribers attached now.
  std::size_t subscribers() const noexcept { return shmkit_publisher_subscribers(s_->h); }
  /// Waits until at least `n` subscribers are attached; returns how many are.
  std::size_t wait_for_subscribers(std::size_t n) {
    return *wait_subs_ns(n, SHMKIT_FOREVER);
  }
  template <class Rep, class Period>
  std::optional<std::size_t> wait_for_subscribers_for(std::size_t n,
                                                      std::chrono::duration<Rep, Period> d) {
    return wait_subs_ns(n, detail::timeout_ns(d));
  }
  void set_wait_strategy(shmkit::wait_strategy w) {
    detail::check(shmkit_publisher_set_wait_strategy(s_->h, static_cast<std::int32_t>(w)));
  }

 protected:
  explicit publisher(detail::state_ptr<detail::publisher_traits> s) noexcept
      : basic_sender(std::move(s)) {}
  std::optional<std::size_t> wait_subs_ns(std::size_t n, std::int64_t ns) {
    std::size_t count = 0;
    if (!detail::check_wait(shmkit_publisher_wait_for_subscribers(s_->h, n, ns, &count)))
      return std::nullopt;
    return count;
  }
};

/// A subscriber of a broadcast (shmkit_subscriber). Used by one thread at a time.
class subscriber : public basic_receiver<detail::subscriber_traits> {
 public:
  static subscriber open(const std::string &name,
                         const broadcast_options &o = broadcast_options()) {
    return subscriber(detail::make_side<detail::subscriber_traits>([&](shmkit_subscriber **out) {
      return shmkit_broadcast_open_subscriber(name.c_str(), &o, out);
    }));
  }
  std::string_view name() const noexcept { return shmkit_subscriber_name(s_->h); }
  std::size_t max_message_len() const noexcept {
    return shmkit_subscriber_max_message_len(s_->h);
  }
  /// The sequence number of the next message this subscriber will read.
  std::uint64_t next_seq() const noexcept { return shmkit_subscriber_next_seq(s_->h); }
  /// Messages published and not read yet.
  std::size_t pending() const noexcept { return shmkit_subscriber_len(s_->h); }
  void set_wait_strategy(shmkit::wait_strategy w) {
    detail::check(shmkit_subscriber_set_wait_strategy(s_->h, static_cast<std::int32_t>(w)));
  }

 protected:
  explicit subscriber(detail::state_ptr<detail::subscriber_traits> s) noexcept
      : basic_receiver(std::move(s)) {}
};

// ---------------------------------------------------------------------------------------
// Typed sides: a trivially copyable struct per message, its layout checked across languages

/// A loan of one T: write *loan (or loan->field), then commit().
template <class T, class Tr>
class typed_loan {
 public:
  T &operator*() const noexcept { return *ptr(); }
  T *operator->() const noexcept { return ptr(); }
  T *get() const noexcept { return ptr(); }
  void commit() { l_.commit(sizeof(T)); }
  void abort() { l_.abort(); }
  explicit typed_loan(basic_loan<Tr> l) noexcept : l_(std::move(l)) {}

 private:
  T *ptr() const noexcept { return reinterpret_cast<T *>(l_.data().data()); }
  basic_loan<Tr> l_;
};

/// A received message of one or more T, in place.
template <class T, class Tr>
class typed_message {
 public:
  const T &operator*() const noexcept { return *get(); }
  const T *operator->() const noexcept { return get(); }
  const T *get() const noexcept { return reinterpret_cast<const T *>(m_.data().data()); }
  /// How many values the message holds (1 from a C++ or Rust typed sender).
  std::size_t count() const noexcept { return m_.size() / sizeof(T); }
  const T &operator[](std::size_t i) const noexcept { return get()[i]; }
  void release() { m_.release(); }
  explicit typed_message(basic_message<Tr> m) noexcept : m_(std::move(m)) {}

 private:
  basic_message<Tr> m_;
};

namespace detail {
template <class T>
constexpr void check_message_type() {
  static_assert(std::is_trivially_copyable_v<T>,
                "a shared memory message type must be trivially copyable (no pointers, "
                "no virtual functions, no owning members)");
  static_assert(std::is_standard_layout_v<T>, "a message type must have a standard layout");
}

template <class Side, class T, class Options, class Make>
Side typed_side(const std::string &tag, Options o, Make make) {
  check_message_type<T>();
  shmkit_layout l = layout_of<T>(tag);
  o.layout = &l;
  return make(o);
}

template <class T, class Sender>
class typed_sender {
 public:
  using loan_type = typed_loan<T, typename Sender::traits>;
  void send(const T &v) { s_.send(const_bytes(&v, sizeof(T))); }
  bool try_send(const T &v) { return s_.try_send(const_bytes(&v, sizeof(T))); }
  template <class Rep, class Period>
  bool send_for(const T &v, std::chrono::duration<Rep, Period> d) {
    return s_.send_for(const_bytes(&v, sizeof(T)), d);
  }
  loan_type loan() { return loan_type(s_.loan(sizeof(T))); }
  std::optional<loan_type> try_loan() { return wrap(s_.try_loan(sizeof(T))); }
  template <class Rep, class Period>
  std::optional<loan_type> loan_for(std::chrono::duration<Rep, Period> d) {
    return wrap(s_.loan_for(sizeof(T), d));
  }
  /// The byte side underneath (name(), ...).
  Sender &bytes_side() noexcept { return s_; }
  const Sender &bytes_side() const noexcept { return s_; }
  std::string_view name() const noexcept { return s_.name(); }

 protected:
  explicit typed_sender(Sender s) noexcept : s_(std::move(s)) {}
  template <class L>
  static std::optional<loan_type> wrap(std::optional<L> l) {
    if (!l) return std::nullopt;
    return loan_type(std::move(*l));
  }
  Sender s_;
};

template <class T, class Receiver>
class typed_receiver {
 public:
  using message_type = typed_message<T, typename Receiver::traits>;
  message_type recv() { return message_type(s_.recv()); }
  std::optional<message_type> try_recv() { return wrap(s_.try_recv()); }
  template <class Rep, class Period>
  std::optional<message_type> recv_for(std::chrono::duration<Rep, Period> d) {
    return wrap(s_.recv_for(d));
  }
  /// Copies the next value out (the safe form with a peer that is not trusted).
  T recv_value() {
    T v;
    s_.recv_into(bytes(&v, sizeof v));
    return v;
  }
  std::optional<T> try_recv_value() {
    T v;
    if (!s_.try_recv_into(bytes(&v, sizeof v))) return std::nullopt;
    return v;
  }
  template <class Rep, class Period>
  std::optional<T> recv_value_for(std::chrono::duration<Rep, Period> d) {
    T v;
    if (!s_.recv_into_for(bytes(&v, sizeof v), d)) return std::nullopt;
    return v;
  }
  Receiver &bytes_side() noexcept { return s_; }
  const Receiver &bytes_side() const noexcept { return s_; }
  std::string_view name() const noexcept { return s_.name(); }

 protected:
  explicit typed_receiver(Receiver s) noexcept : s_(std::move(s)) {}
  template <class M>
  static std::optional<message_type> wrap(std::optional<M> m) {
    if (!m) return std::nullopt;
    return message_type(std::move(*m));
  }
  Receiver s_;
};
}  // namespace detail

/// A producer of T values: the channel's layout is sizeof(T), alignof(T) and `tag`, and an
/// opener with another layout (in any language) gets layout_mismatch.
template <class T>
class typed_producer : public detail::typed_sender<T, producer> {
 public:
  static typed_producer create(const std::string &name, const std::string &tag,
                               const channel_options &o = channel_options()) {
    return typed_producer(detail::typed_side<producer, T>(
        tag, o, [&](const channel_options &t) { return producer::create(name, t); }));
  }
  static typed_producer open(const std::string &name, const std::string &tag,
                             const channel_options &o = channel_options()) {
    return typed_producer(detail::typed_side<producer, T>(
        tag, o, [&](const channel_options &t) { return producer::open(name, t); }));
  }
  static typed_producer open_or_create(const std::string &name, const std::string &tag,
                                       const channel_options &o = channel_options()) {
    return typed_producer(detail::typed_side<producer, T>(
        tag, o, [&](const channel_options &t) { return producer::open_or_create(name, t); }));
  }

 private:
  explicit typed_producer(producer p) noexcept : detail::typed_sender<T, producer>(std::move(p)) {}
};

/// A consumer of T values (layout checked as typed_producer's).
template <class T>
class typed_consumer : public detail::typed_receiver<T, consumer> {
 public:
  static typed_consumer create(const std::string &name, const std::string &tag,
                               const channel_options &o = channel_options()) {
    return typed_consumer(detail::typed_side<consumer, T>(
        tag, o, [&](const channel_options &t) { return consumer::create(name, t); }));
  }
  static typed_consumer open(const std::string &name, const std::string &tag,
                             const channel_options &o = channel_options()) {
    return typed_consumer(detail::typed_side<consumer, T>(
        tag, o, [&](const channel_options &t) { return consumer::open(name, t); }));
  }
  static typed_consumer open_or_create(const std::string &name, const std::string &tag,
                                       const channel_options &o = channel_options()) {
    return typed_consumer(detail::typed_side<consumer, T>(
        tag, o, [&](const channel_options &t) { return consumer::open_or_create(name, t); }));
  }

 private:
  explicit typed_consumer(consumer c) noexcept : detail::typed_receiver<T, consumer>(std::move(c)) {}
};

/// A publisher of T values (layout checked as typed_producer's).
template <class T>
class typed_publisher : public detail::typed_sender<T, publisher> {
 public:
  static typed_publisher create(const std::string &name, const std::string &tag,
                                const broadcast_options &o = broadcast_options()) {
    return typed_publisher(detail::typed_side<publisher, T>(
        tag, o, [&](const broadcast_options &t) { return publisher::create(name, t); }));
  }
  std::size_t subscribers() const noexcept { return this->s_.subscribers(); }
  std::size_t wait_for_subscribers(std::size_t n) { return this->s_.wait_for_subscribers(n); }
  template <class Rep, class Period>
  std::optional<std::size_t> wait_for_subscribers_for(std::size_t n,
                                                      std::chrono::duration<Rep, Period> d) {
    return this->s_.wait_for_subscribers_for(n, d);
  }

 private:
  explicit typed_publisher(publisher p) noexcept
      : detail::typed_sender<T, publisher>(std::move(p)) {}
};

/// A subscriber of T values (layout checked as typed_producer's).
template <class T>
class typed_subscriber : public detail::typed_receiver<T, subscriber> {
 public:
  static typed_subscriber open(const std::string &name, const std::string &tag,
                               const broadcast_options &o = broadcast_options()) {
    return typed_subscriber(detail::typed_side<subscriber, T>(
        tag, o, [&](const broadcast_options &t) { return subscriber::open(name, t); }));
  }

 private:
  explicit typed_subscriber(subscriber s) noexcept
      : detail::typed_receiver<T, subscriber>(std::move(s)) {}
};

// ---------------------------------------------------------------------------------------
// Services: request and response

/// Options of the service factories: shmkit_service_options with its defaults.
struct service_options : shmkit_service_options {
  service_options() noexcept : shmkit_service_options(shmkit_service_options_default()) {}
};

/// Which request a response answers (from server::recv): the client's slot and the id.
using request_handle = shmkit_request_handle;

/// A request a server received: its handle (to respond to) and a copy of its bytes, owned by
/// the server and valid until its next recv or its destruction.
struct request {
  request_handle handle;
  const_bytes data;
};

namespace detail {
/// Calls a C++ writer from the C API's shmkit_write_fn; an exception it throws is kept and
/// rethrown after the call (it must not unwind through C).
template <class F>
struct writer {
  F *f;
  std::exception_ptr thrown;
  static void call(void *ctx, void *buf, std::size_t len) noexcept {
    auto *w = static_cast<writer *>(ctx);
    try {
      (*w->f)(bytes(buf, len));
    } catch (...) {
      w->thrown = std::current_exception();
    }
  }
  void rethrow() const {
    if (thrown) std::rethrow_exception(thrown);
  }
};
}  // namespace detail

/// Answers a server's requests from any thread, beside the server (server::responder()).
class responder {
 public:
  /// Answers `h` with a copy of `msg`. Never waits. Throws disconnected if the client left,
  /// full if its response ring has no room, error SHMKIT_NOT_OUTSTANDING if answered already.
  void respond(const request_handle &h, const_bytes msg) const {
    detail::check(shmkit_responder_respond(h_.get(), &h, msg.data(), msg.size()));
  }
  /// Answers `h` with `len` bytes that `write(shmkit::bytes)` writes in place in the client's
  /// ring (zero-copy). The response is published when `write` returns, also if it throws
  /// (the exception is rethrown after).
  template <class F>
  void respond_with(const request_handle &h, std::size_t len, F &&write) const {
    detail::writer<std::remove_reference_t<F>> w{&write, nullptr};
    detail::check(shmkit_responder_respond_with(h_.get(), &h, len, &decltype(w)::call, &w));
    w.rethrow();
  }
  shmkit_responder *native() const noexcept { return h_.get(); }

 private:
  friend class server;
  explicit responder(shmkit_responder *r) noexcept : h_(r) {}
  detail::owned<shmkit_responder, shmkit_responder_close> h_;
};

/// The server of a service (shmkit_server): receives requests from many clients and answers
/// each. Used by one thread at a time (responders answer from others).
class server {
 public:
  static server create(const std::string &name, const service_options &o = service_options()) {
    return server(detail::make<shmkit_server, shmkit_server_close>([&](shmkit_server **out) {
      return shmkit_service_create_server(name.c_str(), &o, out);
    }));
  }
  /// The next request from any client, waiting for one.
  request recv() {
    std::optional<request> r = recv_ns(SHMKIT_FOREVER);
    if (!r) throw error(SHMKIT_OTHER, "shmkit: a wait without a limit gave up");
    return *r;
  }
  std::optional<request> try_recv() { return recv_ns(SHMKIT_TRY); }
  template <class Rep, class Period>
  std::optional<request> recv_for(std::chrono::duration<Rep, Period> d) {
    return recv_ns(detail::timeout_ns(d));
  }
  /// Answers `h` with a copy of `msg` (errors as responder::respond).
  void respond(const request_handle &h, const_bytes msg) {
    detail::check(shmkit_server_respond(h_.get(), &h, msg.data(), msg.size()));
  }
  /// Answers `h` in place (as responder::respond_with).
  template <class F>
  void respond_with(const request_handle &h, std::size_t len, F &&write) {
    detail::writer<std::remove_reference_t<F>> w{&write, nullptr};
    detail::check(shmkit_server_respond_with(h_.get(), &h, len, &decltype(w)::call, &w));
    w.rethrow();
  }
  /// A handle answering this server's requests from another thread.
  shmkit::responder responder() const {
    shmkit_responder *r = nullptr;
    detail::check(shmkit_server_responder(h_.get(), &r));
    return shmkit::responder(r);
  }
  std::string_view name() const noexcept { return shmkit_server_name(h_.get()); }
  bool is_creator() const noexcept { return shmkit_server_is_creator(h_.get()); }
  std::uint32_t max_clients() const noexcept { return shmkit_server_max_clients(h_.get()); }
  std::size_t max_request_len() const noexcept { return shmkit_server_max_request_len(h_.get()); }
  std::size_t max_response_len() const noexcept {
    return shmkit_server_max_response_len(h_.get());
  }
  void set_wait_strategy(shmkit::wait_strategy w) {
    detail::check(shmkit_server_set_wait_strategy(h_.get(), static_cast<std::int32_t>(w)));
  }
  shmkit_server *native() const noexcept { return h_.get(); }

 private:
  explicit server(detail::owned<shmkit_server, shmkit_server_close> h) : h_(std::move(h)) {}
  std::optional<request> recv_ns(std::int64_t ns) {
    request r{};
    const void *p = nullptr;
    std::size_t n = 0;
    if (!detail::check_wait(shmkit_server_recv(h_.get(), ns, &r.handle, &p, &n)))
      return std::nullopt;
    r.data = const_bytes(p, n);
    return r;
  }
  detail::owned<shmkit_server, shmkit_server_close> h_;
};

namespace detail {
struct client_traits {
  using handle = shmkit_client;
  static void close(handle *h) { shmkit_client_close(h); }
};
}  // namespace detail

/// A response a client received, read in place: valid until release(), the destruction of
/// this object, or the client's next call (any) or destruction. Move-only.
class response {
 public:
  response(response &&o) noexcept
      : s_(std::exchange(o.s_, nullptr)), gen_(o.gen_), bytes_(o.bytes_) {}
  response &operator=(response &&o) noexcept {
    if (this != &o) {
      end();
      s_ = std::exchange(o.s_, nullptr);
      gen_ = o.gen_;
      bytes_ = o.bytes_;
    }
    return *this;
  }
  ~response() { end(); }
  /// The response's bytes (a server that is not trusted could change them: copy first).
  const_bytes data() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  void release() {
    if (!s_ || s_->gen != gen_) throw error(SHMKIT_INVALID_ARGUMENT, "shmkit: this response was released");
    detail::check(shmkit_client_release(std::exchange(s_, nullptr)->h));
  }

 private:
  friend class client;
  response(detail::side_state<detail::client_traits> *s, const_bytes b) noexcept
      : s_(s), gen_(s->gen), bytes_(b) {}
  void end() noexcept {
    if (s_ && s_->gen == gen_) (void)shmkit_client_release(s_->h);
    s_ = nullptr;
  }
  detail::side_state<detail::client_traits> *s_;
  std::uint64_t gen_;
  const_bytes bytes_;
};

/// Room for a request in the request ring (client::loan): write data(), then commit()
/// (which returns the id to wait for) or abort(); destroyed uncommitted, it is dropped.
class request_loan {
 public:
  request_loan(request_loan &&o) noexcept
      : s_(std::exchange(o.s_, nullptr)), gen_(o.gen_), bytes_(o.bytes_) {}
  request_loan &operator=(request_loan &&o) noexcept {
    if (this != &o) {
      end();
      s_ = std::exchange(o.s_, nullptr);
      gen_ = o.gen_;
      bytes_ = o.bytes_;
    }
    return *this;
  }
  ~request_loan() { end(); }
  bytes data() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  /// Sends the request; returns its id.
  std::uint64_t commit() {
    std::uint64_t id = 0;
    detail::check(shmkit_client_commit(take(), &id));
    return id;
  }
  void abort() { detail::check(shmkit_client_abort(take())); }

 private:
  friend class client;
  request_loan(detail::side_state<detail::client_traits> *s, bytes b) noexcept
      : s_(s), gen_(s->gen), bytes_(b) {}
  shmkit_client *take() {
    if (!s_ || s_->gen != gen_) throw error(SHMKIT_INVALID_ARGUMENT, "shmkit: this loan has ended");
    ++s_->gen;
    return std::exchange(s_, nullptr)->h;
  }
  void end() noexcept {
    if (s_ && s_->gen == gen_) (void)shmkit_client_abort(s_->h);
    s_ = nullptr;
  }
  detail::side_state<detail::client_traits> *s_;
  std::uint64_t gen_;
  bytes bytes_;
};

/// A client of a service (shmkit_client). Used by one thread at a time. Every call ends the
/// response or loan held (as the C API does).
class client {
 public:
  static client open(const std::string &name, const service_options &o = service_options()) {
    return client(detail::make_side<detail::client_traits>([&](shmkit_client **out) {
      return shmkit_service_open_client(name.c_str(), &o, out);
    }));
  }
  /// Sends a copy of `msg`; returns the id to wait for. Never waits (full when
  /// max_outstanding requests are).
  std::uint64_t request(const_bytes msg) {
    ++s_->gen;
    std::uint64_t id = 0;
    detail::check(shmkit_client_request(s_->h, msg.data(), msg.size(), &id));
    return id;
  }
  /// Room for a request of `len` bytes, written in place (zero-copy). Never waits.
  request_loan loan(std::size_t len) {
    ++s_->gen;
    void *p = nullptr;
    detail::check(shmkit_client_loan(s_->h, len, &p));
    return request_loan(s_.get(), bytes(p, len));
  }
  /// The response to `id`, waiting for it.
  response wait(std::uint64_t id) {
    std::optional<response> r = wait_ns(id, SHMKIT_FOREVER);
    if (!r) throw error(SHMKIT_OTHER, "shmkit: a wait without a limit gave up");
    return std::move(*r);
  }
  std::optional<response> try_wait(std::uint64_t id) { return wait_ns(id, SHMKIT_TRY); }
  /// The response if it comes within `d` (the request stays outstanding otherwise).
  template <class Rep, class Period>
  std::optional<response> wait_for(std::uint64_t id, std::chrono::duration<Rep, Period> d) {
    return wait_ns(id, detail::timeout_ns(d));
  }
  /// request() then wait().
  response call(const_bytes msg) {
    std::optional<response> r = call_ns(msg, SHMKIT_FOREVER);
    if (!r) throw error(SHMKIT_OTHER, "shmkit: a wait without a limit gave up");
    return std::move(*r);
  }
  /// request() then wait_for(); without a response in time the request is cancelled.
  template <class Rep, class Period>
  std::optional<response> call_for(const_bytes msg, std::chrono::duration<Rep, Period> d) {
    return call_ns(msg, detail::timeout_ns(d));
  }
  /// Gives up on `id`; returns whether it was outstanding.
  bool cancel(std::uint64_t id) {
    ++s_->gen;
    bool was = false;
    detail::check(shmkit_client_cancel(s_->h, id, &was));
    return was;
  }
  /// Connects again to whichever server serves the name now (after disconnected).
  void reconnect() {
    ++s_->gen;
    detail::check(shmkit_client_reconnect(s_->h));
  }
  std::string_view name() const noexcept { return shmkit_client_name(s_->h); }
  std::uint32_t slot() const noexcept { return shmkit_client_slot(s_->h); }
  std::size_t max_request_len() const noexcept { return shmkit_client_max_request_len(s_->h); }
  std::uint32_t max_outstanding() const noexcept {
    return shmkit_client_max_outstanding(s_->h);
  }
  std::size_t outstanding() const noexcept { return shmkit_client_outstanding(s_->h); }
  void set_wait_strategy(shmkit::wait_strategy w) {
    detail::check(shmkit_client_set_wait_strategy(s_->h, static_cast<std::int32_t>(w)));
  }
  shmkit_client *native() const noexcept { return s_->h; }

 private:
  explicit client(detail::state_ptr<detail::client_traits> s) noexcept : s_(std::move(s)) {}
  std::optional<response> wait_ns(std::uint64_t id, std::int64_t ns) {
    ++s_->gen;
    const void *p = nullptr;
    std::size_t n = 0;
    if (!detail::check_wait(shmkit_client_wait(s_->h, id, ns, &p, &n))) return std::nullopt;
    return response(s_.get(), const_bytes(p, n));
  }
  std::optional<response> call_ns(const_bytes msg, std::int64_t ns) {
    ++s_->gen;
    const void *p = nullptr;
    std::size_t n = 0;
    if (!detail::check_wait(shmkit_client_call(s_->h, msg.data(), msg.size(), ns, &p, &n)))
      return std::nullopt;
    return response(s_.get(), const_bytes(p, n));
  }
  detail::state_ptr<detail::client_traits> s_;
};

// ---------------------------------------------------------------------------------------
// Wait sets

/// Waits on several objects at once (shmkit_waitset): channel and broadcast sides, servers,
/// clients, events and semaphores; wait() returns the indices (from add) of those ready. The members must outlive the wait set's use of them.
class wait_set {
 public:
  wait_set() : h_(detail::make<shmkit_waitset, shmkit_waitset_close>(shmkit_waitset_new)) {}
  /// Adds a server (ready when a request is there); returns its index.
  std::size_t add(const server &s) {
    std::size_t i = 0;
    detail::check(shmkit_waitset_add_server(h_.get(), s.native(), &i));
    return i;
  }
  /// Adds a client (ready when a response is there); returns its index.
  std::size_t add(const client &c) {
    std::size_t i = 0;
    detail::check(shmkit_waitset_add_client(h_.get(), c.native(), &i));
    return i;
  }
  /// Adds a producer (ready when there is room), a consumer (a message), a publisher (room)
  /// or a subscriber (a message, a lag or the end); returns its index.
  std::size_t add(const producer &p) { return add_with(shmkit_waitset_add_producer, p.native()); }
  std::size_t add(const consumer &c) { return add_with(shmkit_waitset_add_consumer, c.native()); }
  std::size_t add(const publisher &p) {
    return add_with(shmkit_waitset_add_publisher, p.native());
  }
  std::size_t add(const subscriber &s) {
    return add_with(shmkit_waitset_add_subscriber, s.native());
  }
  /// Typed sides join through their byte side.
  template <class T>
  std::size_t add(const typed_producer<T> &p) { return add(p.bytes_side()); }
  template <class T>
  std::size_t add(const typed_consumer<T> &c) { return add(c.bytes_side()); }
  template <class T>
  std::size_t add(const typed_publisher<T> &p) { return add(p.bytes_side()); }
  template <class T>
  std::size_t add(const typed_subscriber<T> &s) { return add(s.bytes_side()); }
  /// Adds an event (ready when set; the wait set does not reset it: try_wait() does).
  std::size_t add(const event &e) {
    std::size_t i = 0;
    detail::check(shmkit_waitset_add_event(h_.get(), e.native(), &i));
    return i;
  }
  /// Adds a semaphore (ready when it has a permit; take it with try_wait()).
  std::size_t add(const semaphore &s) {
    std::size_t i = 0;
    detail::check(shmkit_waitset_add_semaphore(h_.get(), s.native(), &i));
    return i;
  }
  void clear() { detail::check(shmkit_waitset_clear(h_.get())); }
  std::size_t size() const noexcept { return shmkit_waitset_len(h_.get()); }
  /// The indices of the members ready, waiting until one is.
  std::vector<std::size_t> wait() {
    std::optional<std::vector<std::size_t>> r = wait_ns(SHMKIT_FOREVER);
    if (!r) throw error(SHMKIT_OTHER, "shmkit: a wait without a limit gave up");
    return std::move(*r);
  }
  std::optional<std::vector<std::size_t>> try_wait() { return wait_ns(SHMKIT_TRY); }
  template <class Rep, class Period>
  std::optional<std::vector<std::size_t>> wait_for(std::chrono::duration<Rep, Period> d) {
    return wait_ns(detail::timeout_ns(d));
  }
  shmkit_waitset *native() const noexcept { return h_.get(); }

 private:
  template <class H>
  std::size_t add_with(shmkit_status (*f)(shmkit_waitset *, const H *, std::size_t *), H *h) {
    std::size_t i = 0;
    detail::check(f(h_.get(), h, &i));
    return i;
  }
  std::optional<std::vector<std::size_t>> wait_ns(std::int64_t ns) {
    std::vector<std::size_t> ready(size() ? size() : 1);
    std::size_t n = 0;
    if (!detail::check_wait(shmkit_waitset_wait(h_.get(), ns, ready.data(), ready.size(), &n)))
      return std::nullopt;
    ready.resize(n);
    return ready;
  }
  detail::owned<shmkit_waitset, shmkit_waitset_close> h_;
};

}  // namespace shmkit

#endif
