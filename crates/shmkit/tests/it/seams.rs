//! The seams matrix (issue 19): every waitable kind, waited on in every form, against peers
//! that are killed at chosen points, writers that corrupt what it waits on, and threads that
//! share one handle.
//!
//! Written as tables, not as copies: one `Kind` per waitable (how to make this process's side,
//! what its peer process does, how to take an item with `try_`, and how to wait for one
//! blocking or awaiting), one `Waiter` that waits in a given `Form` (blocking; a `WaitSet`
//! with a few members or with 200, so that a helper thread serves the side; a blocking wait
//! right after a large set left its helper queued; `Async` on tokio), and one function per
//! scenario (`kinds.rs` holds the table of kinds, `raw.rs` the hand-written segment bytes).
//! The macros at the end turn (kind, scenario, forms) into tests named
//! `seams::<kind>::<scenario>::<form>`.
//!
//! What every cell asserts, by scenario:
//!
//! * `delivers_then_death`: the peer acts once (sends, makes room, answers, sets, posts) after a
//!   pause; the item arrives within `SOON` of the peer saying so, and the waiting thread used
//!   little CPU while it waited (no busy loop). Then the peer is SIGKILLed while the side waits:
//!   the side reports it within `SOON` (`Disconnected`; a back-pressure publisher gets room,
//!   the dead subscriber evicted), or — a server, which by design does not watch its clients —
//!   waits out its timeout without a busy loop.
//! * `killed_holding`: the peer is killed half-way through an act (a loan not committed, a
//!   sample held, a response half written): reported as above; nothing half-done is delivered.
//! * `killed_mid_stream`: the peer streams items and is killed at a random point: the items
//!   arrive in order, none twice or garbled, then the death is reported as above.
//! * `commit_never_rung`: an item is committed by hand into the segment and nobody rings the
//!   bell (a peer killed between its commit and its wake-up): the side still sees it within
//!   `SOON` (every wait re-checks once per liveness slice).
//! * `hostile_writer`: a process writes garbage where the side looks next (a frame header, a
//!   read position, a broadcast slot's stamp, a request ring): the side reports `Corrupt`
//!   within `SOON` — or, a server, skips that ring and waits without a busy loop.
//! * `two_threads`: two threads wait on one handle (events and semaphores, whose calls take
//!   `&self`); each gets its item.
//!
//! In every `WaitSet` form, whenever the set says the side is ready, the next `try_` call must
//! return something other than `WouldBlock` (the readiness contract of DESIGN.md). Timeouts are
//! hang guards; `SOON` (2 s) stands for "within a liveness slice"
//! ([`LIVENESS_EVERY`](shmkit::waitset::LIVENESS_EVERY)) with room for a loaded machine — it
//! tells a lost wake-up (seen only at the deadline, `GUARD`) from a delivered one, and is not
//! a speed bound. Under valgrind (slow, and `futex_waitv` unknown to it) skip `seams::`.

use std::time::{Duration, Instant};

use shmkit::{channel, Error, WaitSet, Waitable};

use crate::service::ServiceGuard;
use crate::util::{self, say, NameGuard};
use crate::Role;

mod kinds;
mod raw;

use kinds::*;

pub const ROLES: &[(&str, Role)] = &[("seams_peer", child_peer)];

/// "Soon": a liveness slice with a wide margin for a loaded machine.
const SOON: Duration = Duration::from_secs(2);
/// A hang guard for a wait that should end well before it.
const GUARD: Duration = Duration::from_secs(4);
/// How long a wait that should find nothing lasts (and over which its CPU use is measured).
const SILENT: Duration = Duration::from_millis(1000);
/// The pause before the peer's (or the hostile writer's) act, so that the side is asleep.
const PAUSE: Duration = Duration::from_millis(400);
/// Waits shorter than this are not judged by their CPU use (too little time to tell).
const MIN_JUDGED: Duration = Duration::from_millis(300);
/// Ring capacity of the byte and typed channels.
const CAP: usize = 4096;

// ---------------------------------------------------------------------------------------
// What a wait found.

/// The outcome of one wait or `try_` call, reduced to what the cells compare.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    /// An item: the number it carries (a message's first 8 bytes; this side's own count of
    /// sends for producers and publishers; 0 for events and semaphores).
    Item(u64),
    WouldBlock,
    Timeout,
    Gone,
    Corrupt(String),
    /// Messages lost (overwrite policy): how many.
    Lagged(u64),
    Other(String),
}

fn got<T>(r: shmkit::Result<T>, item: impl FnOnce(T) -> u64) -> Got {
    match r {
        Ok(v) => Got::Item(item(v)),
        Err(Error::WouldBlock { .. }) => Got::WouldBlock,
        Err(Error::Timeout { .. }) => Got::Timeout,
        Err(Error::Disconnected { .. }) => Got::Gone,
        Err(Error::Corrupt { reason, .. }) => Got::Corrupt(reason),
        Err(Error::Lagged { missed, .. }) => Got::Lagged(missed),
        Err(e) => Got::Other(e.to_string()),
    }
}

/// The number a message carries in its first 8 bytes.
fn seq(m: &[u8]) -> u64 {
    m.get(..8)
        .map_or(u64::MAX, |b| u64::from_le_bytes(b.try_into().unwrap()))
}

/// What a side must report after its peer's death or a hostile write.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// `Disconnected`, within `SOON`.
    Gone,
    /// An item, within `SOON` (a back-pressure publisher whose dead subscriber is evicted).
    Item,
    /// `Corrupt`, within `SOON`.
    Corrupt,
    /// Nothing: the wait lasts `SILENT` and uses little CPU.
    Silent,
}

impl Expect {
    fn timeout(self) -> Duration {
        match self {
            Expect::Silent => SILENT,
            _ => GUARD,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The forms.

/// How a side is waited on.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Form {
    /// The kind's blocking `_timeout` call.
    Blocking,
    /// A `WaitSet` of three members, the side in the middle.
    SetFew,
    /// A `WaitSet` of 201 members, the side at index 150: served by a helper thread.
    #[cfg(target_os = "linux")]
    SetMany,
    /// The blocking call, each time right after a 20 ms wait of a 201-member set on the
    /// same side (its helper may stay queued on the side's word).
    #[cfg(target_os = "linux")]
    BlockingAfterSet,
    /// `Async` on a current-thread tokio runtime.
    #[cfg(feature = "tokio")]
    Async,
}

/// Waits on a side in one `Form`, with what that needs (a set and its idle members, a
/// runtime).
struct Waiter {
    form: Form,
    /// Another thread takes from the same handle: ready is a hint (it may take first).
    shared: bool,
    set: WaitSet,
    idle: Vec<channel::Consumer>,
    _names: Vec<NameGuard>,
    #[cfg(feature = "tokio")]
    rt: Option<tokio::runtime::Runtime>,
}

impl Waiter {
    fn new(form: Form, shared: bool) -> Waiter {
        let idle_count = match form {
            Form::SetFew => 2,
            #[cfg(target_os = "linux")]
            Form::SetMany | Form::BlockingAfterSet => 200,
            _ => 0,
        };
        let names: Vec<NameGuard> = (0..idle_count)
            .map(|_| NameGuard::new("seams-idle"))
            .collect();
        let idle = names.iter().map(|n| idle_consumer(n)).collect();
        Waiter {
            form,
            shared,
            set: WaitSet::new(),
            idle,
            _names: names,
            #[cfg(feature = "tokio")]
            rt: (form == Form::Async).then(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap()
            }),
        }
    }

    /// Where the side goes among the idle members.
    fn at(&self) -> usize {
        (self.idle.len() * 3 / 4).min(150)
    }

    /// One wait for the side, up to `timeout`: an item, an error, or `Timeout`.
    fn wait<K: Kind>(&mut self, s: &mut K::Side, timeout: Duration) -> Got {
        match self.form {
            Form::Blocking => K::block(s, timeout),
            Form::SetFew => self.in_set::<K>(s, timeout),
            #[cfg(target_os = "linux")]
            Form::SetMany => self.in_set::<K>(s, timeout),
            #[cfg(target_os = "linux")]
            Form::BlockingAfterSet => {
                let t = Duration::from_millis(20);
                match self.in_set::<K>(s, t) {
                    Got::Timeout => K::block(s, timeout),
                    g => g,
                }
            }
            #[cfg(feature = "tokio")]
            Form::Async => {
                let rt = self.rt.as_ref().unwrap();
                rt.block_on(async {
                    tokio::time::timeout(timeout, K::wait_async(s))
                        .await
                        .unwrap_or(Got::Timeout)
                })
            }
        }
    }

    /// Waits in the set; once the side is ready, takes with `try_`, which must not say
    /// `WouldBlock` (readiness agrees with the next `try_` call) — unless another thread
    /// shares the handle and took the item first (`shared`: then wait again).
    fn in_set<K: Kind>(&mut self, s: &mut K::Side, timeout: Duration) -> Got {
        let (at, end) = (self.at(), Instant::now() + timeout);
        loop {
            let ready = {
                let side = K::member(s).expect("a wait set member");
                let mut members: Vec<&dyn Waitable> =
                    self.idle.iter().map(|c| c as &dyn Waitable).collect();
                members.insert(at, side);
                let left = end.saturating_duration_since(Instant::now());
                match self.set.wait_timeout(&members, left) {
                    Ok(r) => r.to_vec(),
                    Err(e) => return got(Err::<(), _>(e), |()| 0),
                }
            };
            assert_eq!(ready, [at], "only the side under test can be ready");
            let g = K::take(s);
            if g != Got::WouldBlock {
                return g;
            }
            assert!(
                self.shared,
                "{}: the wait set said ready, the next try_ said WouldBlock",
                K::LABEL
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Measuring a wait.

/// This thread's CPU time (`None` where the tests do not measure it).
fn thread_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer; the clock id is a constant every unix has.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        (r == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A wait's outcome, when it ended, how long it took, and the CPU its thread used meanwhile.
#[derive(Debug)]
struct Timed {
    got: Got,
    at: Instant,
    wall: Duration,
    cpu: Option<Duration>,
}

fn timed(wait: impl FnOnce() -> Got) -> Timed {
    let (cpu0, t0) = (thread_cpu(), Instant::now());
    let got = wait();
    let at = Instant::now();
    Timed {
        got,
        at,
        wall: at - t0,
        cpu: thread_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a)),
    }
}

/// Runs `work` in a thread of its own while this thread runs `meanwhile`.
fn beside<T: Send, R>(work: impl FnOnce() -> T + Send, meanwhile: impl FnOnce() -> R) -> (T, R) {
    std::thread::scope(|s| {
        let t = s.spawn(work);
        let r = meanwhile();
        let done = t.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (done, r)
    })
}

/// The waiting thread did not spin: its CPU time is far below the wait's length.
fn no_busy_loop(t: &Timed, what: &str) {
    if let Some(cpu) = t.cpu.filter(|_| t.wall >= MIN_JUDGED) {
        assert!(
            cpu * 4 < t.wall,
            "{what}: the waiting thread used {cpu:?} of CPU in {:?} (a busy loop)",
            t.wall
        );
    }
}

/// The wait ended within `SOON` of `since`.
fn soon_after(t: &Timed, since: Instant, what: &str) {
    let late = t.at.saturating_duration_since(since);
    assert!(
        late <= SOON,
        "{what}: {:?} came {late:?} after (a lost wake-up?)",
        t.got
    );
}

/// `t` is what `expect` says, `since` the act it answers.
fn check(t: &Timed, expect: Expect, since: Instant, what: &str) {
    match expect {
        Expect::Gone => assert_eq!(t.got, Got::Gone, "{what}"),
        Expect::Item => assert!(matches!(t.got, Got::Item(_)), "{what}: {:?}", t.got),
        Expect::Corrupt => assert!(matches!(t.got, Got::Corrupt(_)), "{what}: {:?}", t.got),
        Expect::Silent => assert_eq!(t.got, Got::Timeout, "{what}"),
    }
    match expect {
        Expect::Silent => {}
        _ => soon_after(t, since, what),
    }
    no_busy_loop(t, what);
}

// ---------------------------------------------------------------------------------------
// A cell: the side, its peer process, the waiter.

/// The peer process; killed when dropped (a failing cell leaves no child behind).
struct PeerChild(Option<util::Child>);

impl PeerChild {
    fn line(&mut self, want: &str) {
        self.0.as_mut().expect("alive").wait_for_line(want);
    }

    /// SIGKILL (TerminateProcess on Windows); returns when it was sent.
    fn kill(&mut self) -> Instant {
        let at = Instant::now();
        self.0.take().expect("alive").kill();
        at
    }
}

impl Drop for PeerChild {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.kill();
        }
    }
}

/// Starts the peer of kind `K` on `name` with `script`, and waits until it is ready.
fn spawn_peer<K: Kind>(name: &str, script: &[&str]) -> PeerChild {
    let mut args = vec![K::LABEL, name];
    args.extend_from_slice(script);
    let mut peer = PeerChild(Some(util::spawn("seams_peer", &args)));
    peer.line("ready");
    peer
}

struct Cell<K: Kind> {
    side: K::Side,
    peer: PeerChild,
    waiter: Waiter,
    token: u64,
    // Last: the names go once everything is closed.
    name: ServiceGuard,
}

impl<K: Kind> Cell<K> {
    /// Makes the side, starts its peer with `script`, and primes the side.
    fn start(form: Form, script: &[&str]) -> Cell<K> {
        let name = ServiceGuard::new(K::LABEL);
        let early = (!K::PEER_CREATES).then(|| K::local(&name));
        let peer = spawn_peer::<K>(&name, script);
        let mut side = early.unwrap_or_else(|| K::local(&name));
        let token = K::prime(&mut side);
        Cell {
            side,
            peer,
            waiter: Waiter::new(form, false),
            token,
            name,
        }
    }

    /// One timed wait in a thread of its own, while this thread runs `meanwhile`.
    fn wait_beside<R>(
        &mut self,
        timeout: Duration,
        meanwhile: impl FnOnce(&mut PeerChild) -> R,
    ) -> (Timed, R) {
        let Cell {
            side, peer, waiter, ..
        } = self;
        beside(
            || timed(|| waiter.wait::<K>(side, timeout)),
            || meanwhile(peer),
        )
    }

    /// Another peer on the same object.
    fn spawn_peer(&self, script: &[&str]) -> PeerChild {
        spawn_peer::<K>(&self.name, script)
    }

    fn what(&self, scenario: &str) -> String {
        format!("{} / {scenario} / {:?}", K::LABEL, self.waiter.form)
    }
}

/// The peer child: args kind, name, script (`idle`; `act <ms> <count>`; `hold`; `stream`).
fn child_peer(a: &[String]) {
    let make = PEERS
        .iter()
        .find(|(label, _)| *label == a[0])
        .unwrap_or_else(|| panic!("no kind {:?}", a[0]))
        .1;
    let mut p = make(&a[1]);
    say("ready");
    match a[2].as_str() {
        "idle" => hang(),
        "act" => {
            std::thread::sleep(Duration::from_millis(a[3].parse().unwrap()));
            for seq in 0..a[4].parse().unwrap() {
                p.act(seq);
            }
            say("sent");
            hang()
        }
        "hold" => p.hold(),
        "stream" => {
            for seq in 0.. {
                p.act(seq);
                if seq % 8 == 7 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        s => panic!("no script {s:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The scenarios.

fn pause_ms() -> String {
    PAUSE.as_millis().to_string()
}

/// The peer acts once after a pause: delivered soon, no busy loop meanwhile. Then the peer is
/// killed while the side waits: reported as the kind says.
fn delivers_then_death<K: Kind>(form: Form) {
    let mut c = Cell::<K>::start(form, &["act", &pause_ms(), "1"]);
    let what = c.what("delivery");
    let (t, sent) = c.wait_beside(GUARD, |p| {
        p.line("sent");
        Instant::now()
    });
    assert_eq!(t.got, Got::Item(0), "{what}");
    soon_after(&t, sent, &what);
    no_busy_loop(&t, &what);
    if let Some(expect) = K::ON_DEATH {
        let what = c.what("death after a delivery");
        let (t, killed) = c.wait_beside(expect.timeout(), |p| {
            std::thread::sleep(PAUSE);
            p.kill()
        });
        check(&t, expect, killed, &what);
    }
}

/// The peer is killed half-way through an act: reported as the kind says.
fn killed_holding<K: Kind>(form: Form) {
    let expect = K::ON_DEATH.expect("a kind with a peer");
    let mut c = Cell::<K>::start(form, &["hold"]);
    c.peer.line("held");
    let what = c.what("killed holding");
    let (t, killed) = c.wait_beside(expect.timeout(), |p| {
        std::thread::sleep(PAUSE);
        p.kill()
    });
    check(&t, expect, killed, &what);
}

/// A number below `n` from a small generator (xorshift) seeded from the clock, and the seed
/// (failures print it).
fn random_below(n: u64) -> (u64, u64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let mut x = now.map_or(0, |d| d.subsec_nanos()) as u64 ^ u64::from(std::process::id()) | 1;
    let seed = x;
    for _ in 0..3 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    (x % n, seed)
}

/// The peer streams items and is killed at a random point: the items come in order, then the
/// death is reported as the kind says.
fn killed_mid_stream<K: Kind>(form: Form) {
    let expect = K::ON_DEATH.expect("a kind with a peer");
    let mut c = Cell::<K>::start(form, &["stream"]);
    let (ms, seed) = random_below(350);
    let what = format!(
        "{} (kill after {}+50 ms, seed {seed})",
        c.what("mid-stream"),
        ms
    );
    let Cell {
        side, peer, waiter, ..
    } = &mut c;
    let ((n, t), killed) = beside(
        || {
            // A publisher that makes the channel may publish before this side joins: the
            // first item sets the count. A lag (overwrite policy) moves it on by the loss.
            let (mut n, mut next) = (0u64, (!K::PEER_CREATES).then_some(0));
            loop {
                let t = timed(|| waiter.wait::<K>(side, expect.timeout()));
                match t.got {
                    Got::Item(i) => {
                        let want = *next.get_or_insert(i);
                        assert_eq!(i, want, "{what}: items out of order");
                        next = Some(i + 1);
                        n += 1;
                    }
                    Got::Lagged(m) if K::LAGS => next = next.map(|w| w + m),
                    _ => return (n, t),
                }
            }
        },
        || {
            std::thread::sleep(Duration::from_millis(50 + ms));
            peer.kill()
        },
    );
    check(&t, expect, killed, &format!("{what}, after {n} items"));
}

/// An item committed by hand with no wake-up (a peer killed between its commit and its
/// wake-up): seen within a liveness slice.
fn commit_never_rung<K: Kind>(form: Form) {
    let mut c = Cell::<K>::start(form, &["idle"]);
    let (name, token) = (c.name.to_string(), c.token);
    let what = c.what("commit never rung");
    let (t, committed) = c.wait_beside(GUARD, |_| {
        std::thread::sleep(PAUSE);
        K::commit_unrung(&name, token);
        Instant::now()
    });
    assert_eq!(t.got, Got::Item(0), "{what}");
    soon_after(&t, committed, &what);
}

/// Garbage written where the side looks next, while it waits: reported, or skipped without
/// a busy loop, as the kind says.
fn hostile_writer<K: Kind>(form: Form) {
    let expect = K::ON_CORRUPT.expect("a kind with a hostile-writer cell");
    let mut c = Cell::<K>::start(form, &["idle"]);
    let name = c.name.to_string();
    let what = c.what("hostile writer");
    let (t, written) = c.wait_beside(expect.timeout(), |_| {
        std::thread::sleep(PAUSE);
        K::corrupt(&name);
        Instant::now()
    });
    check(&t, expect, written, &what);
    if let Expect::Silent = expect {
        // Skipped, not stuck: another peer is still served.
        let mut other = c.spawn_peer(&["act", &pause_ms(), "1"]);
        let (t, sent) = c.wait_beside(GUARD, |_| {
            other.line("sent");
            Instant::now()
        });
        let what = format!("{what}, then another peer");
        assert_eq!(t.got, Got::Item(0), "{what}");
        soon_after(&t, sent, &what);
    }
}

/// Two threads wait on one handle; the peer acts twice: each thread gets one item.
fn two_threads<K: Kind>(form: Form)
where
    K::Side: Clone,
{
    let mut c = Cell::<K>::start(form, &["act", &pause_ms(), "2"]);
    let what = c.what("two threads");
    c.waiter.shared = true;
    let mut other = (c.side.clone(), Waiter::new(form, true));
    let Cell {
        side, peer, waiter, ..
    } = &mut c;
    let ((a, b), sent) = beside(
        || {
            beside(
                || timed(|| waiter.wait::<K>(side, GUARD)),
                || timed(|| other.1.wait::<K>(&mut other.0, GUARD)),
            )
        },
        || {
            peer.line("sent");
            Instant::now()
        },
    );
    for t in [a, b] {
        assert_eq!(t.got, Got::Item(0), "{what}");
        soon_after(&t, sent, &what);
        no_busy_loop(&t, &what);
    }
}

// ---------------------------------------------------------------------------------------
// The matrix.

/// One test per form listed: `blocking`, `set_few`, `set_many` and `blocking_after_set`
/// (Linux: more members than one `futex_waitv` takes), `async_await` (feature `tokio`).
macro_rules! form_test {
    (blocking, $($at:tt)*) => { form_test!(@ blocking, Blocking, [], $($at)*); };
    (set_few, $($at:tt)*) => { form_test!(@ set_few, SetFew, [], $($at)*); };
    (set_many, $($at:tt)*) => {
        form_test!(@ set_many, SetMany, [target_os = "linux"], $($at)*);
    };
    (blocking_after_set, $($at:tt)*) => {
        form_test!(@ blocking_after_set, BlockingAfterSet, [target_os = "linux"], $($at)*);
    };
    (async_await, $($at:tt)*) => {
        form_test!(@ async_await, Async, [feature = "tokio"], $($at)*);
    };
    (@ $test:ident, $form:ident, [$($cfg:meta)?], $scenario:ident, $kind:ident) => {
        $(#[cfg($cfg)])?
        #[test]
        fn $test() {
            crate::seams::$scenario::<crate::seams::$kind>(crate::seams::Form::$form)
        }
    };
}

/// The tests of one kind: `module: Kind { scenario: [forms], … }`.
macro_rules! cells {
    ($module:ident: $kind:ident { $($scenario:ident: [$($form:ident),*]),* $(,)? }) => {
        mod $module {
            $( mod $scenario { $( form_test!($form, $scenario, $kind); )* } )*
        }
    };
}

/// The kinds with a peer role and a hostile-writer cell: every scenario but `two_threads`.
macro_rules! peer_kinds {
    ($($module:ident: $kind:ident),*) => {$(
        cells!($module: $kind {
            delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
            killed_holding: [blocking, set_few, async_await],
            killed_mid_stream: [blocking, set_many, async_await],
            commit_never_rung: [blocking, set_few, set_many, async_await],
            hostile_writer: [blocking, set_few, set_many, async_await],
        });
    )*};
}

/// Events and semaphores: no peer role (nothing to report when a setter dies), no ring to
/// corrupt (every value of their word is a state), and calls that take `&self`.
macro_rules! sync_kinds {
    ($($module:ident: $kind:ident),*) => {$(
        cells!($module: $kind {
            delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
            commit_never_rung: [blocking, set_few, set_many, async_await],
            two_threads: [blocking, set_few, set_many, async_await],
        });
    )*};
}

peer_kinds!(
    consumer: ChannelConsumer,
    producer: ChannelProducer,
    subscriber: BlockSubscriber,
    server: Server,
    client: Client
);
sync_kinds!(event: AutoEvent, semaphore: Sem);
// Not a wait set member: blocking and async only. A killed subscriber is evicted, so a
// stream to it never ends: no mid-stream cell.
cells!(publisher: Publisher {
    delivers_then_death: [blocking, async_await],
    killed_holding: [blocking, async_await],
    commit_never_rung: [blocking, async_await],
});
// Overwrite: the same waits as back-pressure; a stream may lag (counted, then in order).
cells!(overwrite_subscriber: OverwriteSubscriber {
    delivers_then_death: [blocking, set_many, async_await],
    killed_holding: [set_few],
    killed_mid_stream: [blocking, set_few, async_await],
    commit_never_rung: [blocking, set_many],
    hostile_writer: [blocking, set_few, async_await],
});
// The typed forms wait where their byte forms do: a cell of each scenario.
cells!(typed_consumer: TypedConsumer {
    delivers_then_death: [blocking, set_few, async_await],
    killed_holding: [blocking],
    commit_never_rung: [set_many],
    hostile_writer: [set_few],
});
cells!(typed_subscriber: TypedSubscriber {
    delivers_then_death: [blocking, set_few, async_await],
    killed_holding: [blocking],
    commit_never_rung: [set_many],
    hostile_writer: [set_few],
});

/// Every kind's peer, by label (for the child).
const PEERS: &[(&str, MakePeer)] = &[
    (ChannelConsumer::LABEL, ChannelConsumer::peer),
    (ChannelProducer::LABEL, ChannelProducer::peer),
    (BlockSubscriber::LABEL, BlockSubscriber::peer),
    (OverwriteSubscriber::LABEL, OverwriteSubscriber::peer),
    (Publisher::LABEL, Publisher::peer),
    (TypedConsumer::LABEL, TypedConsumer::peer),
    (TypedSubscriber::LABEL, TypedSubscriber::peer),
    (Server::LABEL, Server::peer),
    (Client::LABEL, Client::peer),
    (AutoEvent::LABEL, AutoEvent::peer),
    (Sem::LABEL, Sem::peer),
];
