//! Liveness from the kernel, not from pids: a dead holder whose recorded pid now names a live
//! process is still dead; holders in another pid namespace (containers sharing `/dev/shm`)
//! are alive while they run and dead once killed; `gc` (`inspect::remove_unused`) removes
//! only objects nobody has open.

// Some tests run only on Linux (pid namespaces, gc) or not on macOS (pids are all it has),
// so some helpers go unused elsewhere.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

use std::time::Duration;

use shmkit::channel::{self, broadcast};
use shmkit::Error;

use crate::util::{self, say, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("ns_send", child_send),
    ("ns_recv", child_recv),
    ("ns_publish", child_publish),
    ("ns_remove_unused", child_remove_unused),
    ("fork_and_drop", child_fork_and_drop),
];

/// A hang guard, not a performance bound.
const WAIT: Duration = Duration::from_secs(30);
/// Offsets of role words (see the layouts in `channel/layout.rs`, `channel/broadcast.rs` and
/// `src/object/header.rs`).
const PRODUCER_WORD: usize = 64;
const FIRST_SUBSCRIBER_WORD: usize = 384;
const CREATOR_PID: usize = 24;
const CREATOR_WORD: usize = 56;
/// Messages of the namespace streams.
const CHUNK: usize = 64 << 10;

/// Chunk `i` of a stream: every byte depends on `i` and its offset.
fn chunk(i: u64) -> Vec<u8> {
    (0..CHUNK)
        .map(|j| (i as usize * 31 + j / 7) as u8)
        .collect()
}

/// args: name, MiB — opens the producer side and sends that many MiB in 64 KiB chunks.
fn child_send(a: &[String]) {
    let mut tx = channel::options().open_producer(&a[0]).unwrap();
    send_stream(&mut tx, a[1].parse().unwrap());
}

/// args: name, MiB — opens the consumer side, receives and checks that many MiB, and then
/// sees the producer leave.
fn child_recv(a: &[String]) {
    let mut rx = channel::options().open_consumer(&a[0]).unwrap();
    recv_stream(&mut rx, a[1].parse().unwrap());
}

fn send_stream(tx: &mut channel::Producer, mib: u64) {
    for i in 0..mib * (1 << 20) / CHUNK as u64 {
        tx.send(&chunk(i)).unwrap();
    }
}

fn recv_stream(rx: &mut channel::Consumer, mib: u64) {
    for i in 0..mib * (1 << 20) / CHUNK as u64 {
        match rx.recv_timeout(WAIT) {
            Ok(s) => assert!(*s == chunk(i), "chunk {i} differs"),
            Err(e) => panic!("after {i} chunks: {e}"),
        }
    }
    match rx.recv_timeout(WAIT) {
        Err(Error::Disconnected { .. }) => {}
        other => panic!("expected Disconnected after the stream, got {other:?}"),
    };
}

/// args: name, gate — creates a back-pressure broadcast of 4 slots, says "created", waits
/// for the gate's word to turn 1 (a subscriber joined), fills the ring, and says whether
/// one more message "blocked" (the lagging subscriber is alive) or went through ("evicted").
fn child_publish(a: &[String]) {
    let mut publisher = broadcast::options()
        .slots(4)
        .slot_size(64)
        .policy(broadcast::Policy::Block)
        .create_publisher(&a[0])
        .unwrap();
    say("created");
    let gate = shmkit::Segment::open(&a[1]).unwrap();
    let gate = gate.map(shmkit::Access::ReadWrite).unwrap();
    let go = gate.atomic_u32(0).unwrap();
    while go.load(std::sync::atomic::Ordering::Acquire) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    for i in 0..4u8 {
        publisher.send(&[i; 8]).unwrap();
    }
    match publisher.send_timeout(&[4; 8], Duration::from_millis(500)) {
        Err(Error::Timeout { .. }) => say("blocked"),
        Ok(()) => say("evicted"),
        Err(e) => panic!("{e}"),
    }
}

/// args: name — what `gc` would do to it, printed as "removed", "in use" or "not shmkit".
fn child_remove_unused(a: &[String]) {
    match shmkit::inspect::remove_unused(&a[0]).unwrap() {
        shmkit::inspect::Removal::Removed => say("removed"),
        shmkit::inspect::Removal::InUse => say("in use"),
        shmkit::inspect::Removal::NotShmkit => say("not shmkit"),
        other => panic!("{other:?}"),
    }
}

/// Replaces the pid half of the role word at `offset` of segment `name` with `pid`.
fn rewrite_pid(name: &str, offset: usize, pid: u32) {
    let mut v = util::raw_view(name);
    let mut word = [0u8; 8];
    v.read_at(offset, &mut word).unwrap();
    let word = u64::from_ne_bytes(word) & 0xffff_ffff | u64::from(pid) << 32;
    v.write_at(offset, &word.to_ne_bytes()).unwrap();
}

/// A producer is killed, and its recorded pid then names a live, unrelated process (this
/// one), as after pid reuse. The consumer still drains what it sent and then learns it is
/// gone, and its place can be taken over.
#[cfg(not(all(unix, not(target_os = "linux"))))] // macOS: pids are all there is (documented)
#[test]
fn a_dead_producer_whose_pid_was_reused_is_still_dead() {
    let name = NameGuard::new("lvreuse");
    let mut rx = channel::options().create_consumer(&name).unwrap();
    let mut child = util::spawn("send_one_and_hang", &[&name]);
    child.wait_for_line("sent");
    child.kill();
    rewrite_pid(&name, PRODUCER_WORD, std::process::id());
    assert_eq!(&*rx.recv_timeout(WAIT).unwrap(), b"last words");
    match rx.recv_timeout(WAIT) {
        Err(Error::Disconnected { .. }) => {}
        other => panic!("a dead producer with a live pid was taken for alive: {other:?}"),
    };
    channel::options()
        .open_producer(&name)
        .expect("the dead producer's place can be taken over");
}

/// The same for a broadcast subscriber: killed without reading, its pid rewritten to a live
/// one, it is still evicted, so it cannot hold a back-pressure publisher up for good.
#[cfg(not(all(unix, not(target_os = "linux"))))]
#[test]
fn a_dead_subscriber_whose_pid_was_reused_is_still_evicted() {
    let name = NameGuard::new("lvreusesub");
    let mut publisher = broadcast::options()
        .slots(4)
        .slot_size(64)
        .create_publisher(&name)
        .unwrap();
    let mut child = util::spawn("subscriber", &[&name, "1000000"]);
    child.wait_for_line("subscribed");
    child.kill();
    rewrite_pid(&name, FIRST_SUBSCRIBER_WORD, std::process::id());
    for i in 0..10u8 {
        publisher
            .send_timeout(&[i; 8], WAIT)
            .expect("the dead subscriber was not evicted");
    }
}

/// A creator killed before it removed its object, its pid rewritten to a live one: `inspect`
/// (and so `shmkit ls` / `gc`) still says the creator is gone and nobody uses the object.
#[cfg(target_os = "linux")] // Windows frees the object with its last process
#[test]
fn a_dead_creator_whose_pid_was_reused_is_still_dead() {
    let name = NameGuard::new("lvreusecr");
    let mut child = util::spawn("create_event_and_hang", &[&name]);
    child.wait_for_line("created");
    child.kill();
    let me = std::process::id();
    rewrite_pid(&name, CREATOR_WORD, me);
    util::raw_view(&name)
        .write_at(CREATOR_PID, &me.to_ne_bytes())
        .unwrap();
    let info = shmkit::inspect::inspect(&name).unwrap();
    assert_eq!(info.creator_pid, Some(me));
    assert_eq!(info.creator_alive, Some(false));
    assert_eq!(info.in_use, Some(false));
}

/// `remove_unused` (what `shmkit gc` does) removes an object nobody has open, spares one a
/// live process holds, and never touches raw segments.
#[cfg(target_os = "linux")]
#[test]
fn remove_unused_spares_objects_in_use_and_raw_segments() {
    use shmkit::inspect::{inspect, remove_unused, Removal};
    let held = NameGuard::new("lvheld");
    let _tx = channel::create_producer(&held, 4096).unwrap();
    let info = inspect(&held).unwrap();
    assert_eq!(info.in_use, Some(true));
    let holders: Vec<_> = info
        .holders
        .iter()
        .map(|h| (h.role.as_str(), h.pid))
        .collect();
    assert_eq!(holders, [("producer", std::process::id())]);
    assert_eq!(remove_unused(&held).unwrap(), Removal::InUse);

    let raw = NameGuard::new("lvraw");
    let _seg = shmkit::Segment::create(&raw, 4096).unwrap();
    assert_eq!(remove_unused(&raw).unwrap(), Removal::NotShmkit);

    let orphan = NameGuard::new("lvorphan");
    let mut child = util::spawn("create_event_and_hang", &[&orphan]);
    child.wait_for_line("created");
    child.kill();
    assert_eq!(inspect(&orphan).unwrap().in_use, Some(false));
    assert_eq!(remove_unused(&orphan).unwrap(), Removal::Removed);
    assert!(matches!(inspect(&orphan), Err(Error::NotFound { .. })));
    // Both survivors are still there.
    inspect(&held).unwrap();
    inspect(&raw).unwrap();
}

/// 100 MiB each way between two pid namespaces that share `/dev/shm`: neither side takes
/// the other for dead (with pids, each side saw a pid that meant nothing in its namespace).
#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(
    not(shmkit_test_pid_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for pid namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn streams_cross_pid_namespaces_both_ways() {
    const MIB: &str = "100";
    let name = NameGuard::new("lvnsin");
    let mut rx = channel::options()
        .capacity(1 << 20)
        .create_consumer(&name)
        .unwrap();
    let child = util::spawn_in_pid_namespace("ns_send", &[&name, MIB]);
    recv_stream(&mut rx, MIB.parse().unwrap());
    child.wait().assert_success();

    let name = NameGuard::new("lvnsout");
    let mut tx = channel::options()
        .capacity(1 << 20)
        .create_producer(&name)
        .unwrap();
    let child = util::spawn_in_pid_namespace("ns_recv", &[&name, MIB]);
    send_stream(&mut tx, MIB.parse().unwrap());
    drop(tx);
    child.wait().assert_success();
}

/// A publisher in another pid namespace does not evict a live subscriber of this one: under
/// back-pressure it waits for it.
#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(
    not(shmkit_test_pid_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for pid namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_subscriber_in_another_pid_namespace_is_not_evicted() {
    let name = NameGuard::new("lvnssub");
    let gate_name = NameGuard::new("lvnsgate");
    let gate = shmkit::Segment::create(&gate_name, 64).unwrap();
    let gate = gate.map(shmkit::Access::ReadWrite).unwrap();
    let mut child = util::spawn_in_pid_namespace("ns_publish", &[&name, &gate_name]);
    child.wait_for_line("created");
    let mut sub = broadcast::options().open_subscriber(&name).unwrap();
    gate.atomic_u32(0)
        .unwrap()
        .store(1, std::sync::atomic::Ordering::Release);
    let verdict = (0..10)
        .map(|_| child.read_line())
        .find(|l| l == "blocked" || l == "evicted")
        .unwrap_or_default();
    assert_eq!(verdict, "blocked", "the live subscriber was evicted");
    let mut buf = Vec::new();
    for i in 0..4u8 {
        sub.recv_into_timeout(&mut buf, WAIT).unwrap();
        assert_eq!(buf, [i; 8]);
    }
    child.wait().assert_success();
}

/// `gc` run in another pid namespace spares a channel this namespace uses.
#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(
    not(shmkit_test_pid_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for pid namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn gc_in_another_pid_namespace_spares_a_channel_in_use() {
    let name = NameGuard::new("lvnsgc");
    let _rx = channel::options().create_consumer(&name).unwrap();
    let mut child = util::spawn_in_pid_namespace("ns_remove_unused", &[&name]);
    let verdict = (0..10)
        .map(|_| child.read_line())
        .find(|l| ["removed", "in use", "not shmkit"].contains(&l.as_str()))
        .unwrap_or_default();
    assert_eq!(verdict, "in use");
    child.wait().assert_success();
    shmkit::inspect::inspect(&name).expect("the channel is still there");
}

/// A producer in another pid namespace killed with SIGKILL: the consumer gets what it sent,
/// then `Disconnected` (with pids, the child was pid 1 of its namespace — which names this
/// namespace's init, always alive — so it was never seen to die).
#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(
    not(shmkit_test_pid_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for pid namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_kill_in_another_pid_namespace_is_noticed() {
    let name = NameGuard::new("lvnskill");
    let mut rx = channel::options().create_consumer(&name).unwrap();
    let mut child = util::spawn_in_pid_namespace("send_one_and_hang", &[&name]);
    child.wait_for_line("sent");
    child.kill();
    assert_eq!(&*rx.recv_timeout(WAIT).unwrap(), b"last words");
    match rx.recv_timeout(WAIT) {
        Err(Error::Disconnected { .. }) => {}
        other => panic!("the killed producer was not noticed: {other:?}"),
    };
}

/// args: channel, segment — becomes the channel's consumer and creates the segment, forks, and
/// lets the forked child drop its copies of both; then says "kept" if this process still holds
/// the consumer's side and the segment's name.
#[cfg(target_os = "linux")]
fn child_fork_and_drop(a: &[String]) {
    let rx = channel::options().open_consumer(&a[0]).unwrap();
    let seg = shmkit::Segment::create(&a[1], 4096).unwrap();
    // SAFETY: this child runs its one test on its main thread (`--test-threads=1`), so the
    // forked process has no other thread whose locks it could inherit held.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        drop(rx);
        drop(seg);
        // SAFETY: ends the forked process without running the parent's exit handlers.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let info = shmkit::inspect::inspect(&a[0]).unwrap();
    assert!(
        info.holders.iter().any(|h| h.role == "consumer"),
        "the forked child's drop gave the parent's side away: {info:?}"
    );
    assert!(matches!(
        channel::options().open_consumer(&a[0]),
        Err(Error::InUse { .. })
    ));
    shmkit::Segment::open(&a[1]).expect("the forked child's drop removed the parent's name");
    drop((rx, seg));
    say("kept");
}

#[cfg(not(target_os = "linux"))]
fn child_fork_and_drop(_: &[String]) {}

/// A child forked without `exec` shares its parent's descriptors (and so its OFD locks); when
/// it drops its copies of the parent's handles, the parent keeps its roles and names.
#[cfg(target_os = "linux")]
#[test]
fn a_forked_child_dropping_its_copies_leaves_the_parents_roles() {
    let name = NameGuard::new("lvfork");
    let seg = NameGuard::new("lvforkseg");
    let _tx = channel::create_producer(&name, 4096).unwrap();
    util::run("fork_and_drop", &[&name, &seg]).assert_success();
}
