//! Options parity: every object kind takes `mode`, `keep` and (where it makes sense)
//! `open_or_create`, like segments. Mode is tested across users: a child process that drops
//! root to `nobody` (uid and gid 65534) opens objects created by root with mode 0660 and
//! group 65534, and is refused those created with the default 0600.

use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast};
use shmkit::sync::{Event, Mutex, Semaphore, Shared};
use shmkit::Error;

use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("open_as_nobody", child_open_as_nobody),
    ("open_or_create_semaphore", child_open_or_create_semaphore),
];

/// Every kind with options, by the name the child uses.
const KINDS: &[&str] = &[
    "mutex",
    "event",
    "semaphore",
    "shared",
    "channel",
    "broadcast",
];

/// The uid and gid of `nobody` / `nogroup` on Debian and most Linux systems.
#[cfg(target_os = "linux")]
const NOBODY: u32 = 65534;

/// A handle of any kind, kept alive while the child runs (never read, hence the allow).
#[allow(dead_code)]
enum Made {
    Mutex(Mutex),
    Event(Event),
    Semaphore(Semaphore),
    Shared(Shared<u64>),
    Channel(channel::Producer),
    Broadcast(broadcast::Publisher),
}

/// Creates an object of `kind` named `name` with `mode` (None: leave the default) and `keep`.
fn create(kind: &str, name: &str, mode: Option<u32>, keep: bool) -> shmkit::Result<Made> {
    // Sets the mode only when given, so that `None` tests the default.
    macro_rules! with {
        ($opts:expr) => {{
            let mut o = $opts;
            o.keep(keep);
            if let Some(m) = mode {
                o.mode(m);
            }
            o
        }};
    }
    Ok(match kind {
        "mutex" => Made::Mutex(with!(Mutex::options()).create(name)?),
        "event" => Made::Event(with!(Event::options()).create(name)?),
        "semaphore" => Made::Semaphore(with!(Semaphore::options()).initial(1).create(name)?),
        "shared" => Made::Shared(with!(Shared::<u64>::options()).create(name, 7)?),
        "channel" => Made::Channel(
            with!(channel::options())
                .capacity(4096)
                .create_producer(name)?,
        ),
        "broadcast" => Made::Broadcast(
            with!(broadcast::options())
                .slots(4)
                .slot_size(64)
                .create_publisher(name)?,
        ),
        k => panic!("unknown kind {k}"),
    })
}

/// Opens the object `name` of `kind` the ordinary way; `Ok` drops it at once.
fn open(kind: &str, name: &str) -> shmkit::Result<()> {
    match kind {
        "mutex" => Mutex::open(name).map(drop),
        "event" => Event::open(name).map(drop),
        "semaphore" => Semaphore::open(name).map(drop),
        "shared" => Shared::<u64>::open(name).map(drop),
        "channel" => channel::open_consumer(name).map(drop),
        "broadcast" => broadcast::options().open_subscriber(name).map(drop),
        k => panic!("unknown kind {k}"),
    }
}

/// args: triples kind, name, "ok" | "denied" — drops to uid/gid 65534 with no supplementary
/// groups, then opens each object and checks the outcome.
fn child_open_as_nobody(a: &[String]) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on this process's credentials; glibc applies setgid and
        // setuid to every thread of the process.
        unsafe {
            assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "setgroups");
            assert_eq!(libc::setgid(NOBODY), 0, "setgid");
            assert_eq!(libc::setuid(NOBODY), 0, "setuid");
        }
        // SAFETY: getters without preconditions.
        let now = unsafe { (libc::geteuid(), libc::getegid()) };
        assert_eq!(now, (NOBODY, NOBODY));
    }
    let mut failures = Vec::new();
    for t in a.chunks_exact(3) {
        let (kind, name, want) = (&t[0], &t[1], t[2].as_str());
        let got = open(kind, name);
        println!("{kind} {want}: {got:?}");
        let fine = match want {
            "ok" => got.is_ok(),
            _ => matches!(got, Err(Error::AccessDenied { .. })),
        };
        if !fine {
            failures.push(format!("{kind} (expected {want}): {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(
    not(shmkit_test_setuid),
    ignore = "needs root (CAP_SETUID, to run a child as another user); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn mode_0660_lets_a_group_member_open_every_kind_and_0600_refuses_it() {
    // SAFETY: a getter without preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root, to give objects to another group and open them as another user; \
         the build found it could run (or SHMKIT_TEST_ROOT=1 said so). \
         `SHMKIT_TEST_ROOT=0 cargo test` ignores it."
    );
    let mut guards = Vec::new();
    let mut handles = Vec::new();
    let mut args = Vec::new();
    for kind in KINDS {
        for (mode, want) in [(Some(0o660), "ok"), (None, "denied")] {
            let name = NameGuard::new(&format!("mode-{kind}"));
            handles.push(create(kind, &name, mode, false).unwrap());
            // The service's group: the child runs as a member of it (gid 65534).
            std::os::unix::fs::chown(format!("/dev/shm/{}", &*name), None, Some(NOBODY)).unwrap();
            args.extend([kind.to_string(), name.to_string(), want.to_string()]);
            guards.push(name);
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    util::run("open_as_nobody", &args).assert_success();
    drop(handles);
}

#[test]
fn every_kind_is_created_with_the_mode_asked_for() {
    for kind in KINDS {
        let name = NameGuard::new(&format!("mode-{kind}"));
        let made = create(kind, &name, Some(0o640), false).unwrap();
        open(kind, &name).unwrap();
        // Windows ignores the mode (documented); Unix applies it exactly.
        #[cfg(unix)]
        {
            let seg = shmkit::Segment::open(&name).unwrap();
            let (_, mode, _) = seg.owner_mode_mtime().unwrap();
            assert_eq!(mode, 0o640, "{kind}");
        }
        drop(made);
    }
}

#[cfg(unix)]
#[test]
fn keep_leaves_every_kind_named_after_its_creator_is_dropped() {
    use shmkit::Segment;
    for kind in KINDS {
        let kept = NameGuard::new(&format!("keep-{kind}"));
        drop(create(kind, &kept, None, true).unwrap());
        assert!(
            Segment::open(&kept).is_ok(),
            "{kind} with keep(true) lost its name"
        );
        // The kept object is still a working object of its kind.
        open(kind, &kept).unwrap();

        let gone = NameGuard::new(&format!("nokeep-{kind}"));
        drop(create(kind, &gone, None, false).unwrap());
        assert!(
            matches!(Segment::open(&gone), Err(Error::NotFound { .. })),
            "{kind} without keep left its name"
        );
    }
}

#[test]
fn open_or_create_creates_once_then_opens() {
    let name = NameGuard::new("ooc-mutex");
    let a = Mutex::options().open_or_create(&name).unwrap();
    let b = Mutex::options().open_or_create(&name).unwrap();
    assert!(a.is_creator() && !b.is_creator());
    drop(a.lock().unwrap());

    let name = NameGuard::new("ooc-event");
    let a = Event::options()
        .reset(shmkit::sync::Reset::Manual)
        .open_or_create(&name)
        .unwrap();
    let b = Event::options().open_or_create(&name).unwrap();
    assert!(a.is_creator() && !b.is_creator());
    assert_eq!(
        b.reset_kind(),
        shmkit::sync::Reset::Manual,
        "the creator's mode"
    );

    let name = NameGuard::new("ooc-sem");
    let a = Semaphore::options()
        .initial(2)
        .max(3)
        .open_or_create(&name)
        .unwrap();
    let b = Semaphore::options().open_or_create(&name).unwrap();
    assert!(a.is_creator() && !b.is_creator());
    assert_eq!((b.value(), b.max()), (2, 3));

    let name = NameGuard::new("ooc-shared");
    let a = Shared::<u64>::options().open_or_create(&name, 5).unwrap();
    let b = Shared::<u64>::options().open_or_create(&name, 9).unwrap();
    assert!(a.is_creator() && !b.is_creator());
    assert_eq!(b.lock().unwrap().get(), 5, "the creator's value");
    assert!(matches!(
        Shared::<u32>::options().open_or_create(&name, 0),
        Err(Error::LayoutMismatch { .. })
    ));

    let name = NameGuard::new("ooc-chan");
    let mut rx = channel::options()
        .capacity(4096)
        .open_or_create_consumer(&name)
        .unwrap();
    let mut tx = channel::options().open_or_create_producer(&name).unwrap();
    assert!(rx.is_creator() && !tx.is_creator());
    assert_eq!(tx.capacity(), 4096, "the creator's capacity");
    tx.send(b"hi").unwrap();
    let mut buf = Vec::new();
    rx.recv_into(&mut buf).unwrap();
    assert_eq!(buf, b"hi");
}

/// args: name — open-or-creates a semaphore (max 2), says which it did, posts once and waits
/// until both racers have posted, so that neither drops the name before the other is in.
fn child_open_or_create_semaphore(a: &[String]) {
    let sem = Semaphore::options().max(2).open_or_create(&a[0]).unwrap();
    println!(
        "{}",
        if sem.is_creator() {
            "created"
        } else {
            "opened"
        }
    );
    sem.post().unwrap();
    let start = Instant::now();
    while sem.value() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the other racer never came"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn two_processes_racing_to_open_or_create_get_one_object() {
    for _ in 0..5 {
        let name = NameGuard::new("ooc-race");
        let racers = [
            util::spawn("open_or_create_semaphore", &[&name]),
            util::spawn("open_or_create_semaphore", &[&name]),
        ];
        let mut said: Vec<String> = racers
            .into_iter()
            .map(|c| {
                let f = c.wait();
                f.assert_success();
                let said = f.stdout.lines().find(|l| *l == "created" || *l == "opened");
                said.unwrap_or_default().to_owned()
            })
            .collect();
        said.sort();
        assert_eq!(said, ["created", "opened"]);
    }
}
