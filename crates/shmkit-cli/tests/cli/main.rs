//! The real `shmkit` binary, run as a user would: happy paths, error paths and exit codes.
//!
//! Segments that must outlive one invocation are created by this test process with the
//! library (so the tests also run on Windows, where a segment dies with its last handle).

#[cfg(all(unix, feature = "bridge"))]
mod bridge;
mod commands;
#[cfg(unix)]
mod gc;
mod open_wait;
#[cfg(unix)]
mod pipes_and_signals;
#[cfg(unix)]
mod record;
mod streams;
mod top;
mod topics;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use shmkit::{Access, Segment};

/// Runs `shmkit ARGS`. Under Wine, on a loaded machine, starting a process once failed with
/// "Internal error" (os error 1359) before `shmkit` ran at all: a failure to start is retried
/// twice there (what the tests check is what `shmkit` does once it runs).
fn shmkit(args: &[&str]) -> Output {
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(args)
            .stdin(Stdio::null())
            .output()
    };
    let mut tries = 0;
    loop {
        match run() {
            Err(e) if cfg!(windows) && tries < 2 => {
                eprintln!("starting shmkit failed ({e}); trying again");
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            r => return r.expect("run shmkit"),
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

/// A unique name, removed (if it still exists) when dropped.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static N: AtomicU32 = AtomicU32::new(0);
        Name(format!(
            "shmkit-cli-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

/// A random file of `len` bytes (xorshift, so it needs no dependency).
fn random_file(path: &std::path::Path, len: usize) {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    std::fs::write(path, v).unwrap();
}

fn digest(path: &std::path::Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    // FNV-1a over the bytes: enough to tell two 100 MiB files apart in a test.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Held by tests that run `gc`, which collects every unused object on the machine: one
/// test's orphan must not be collected by another test's `gc`.
#[cfg(unix)]
static GC: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits until `name` exists with a header of `kind` (a segment exists before its header is
/// written). The 30 s limit only guards against a hang.
#[track_caller]
#[cfg(unix)]
fn wait_for_kind(name: &str, kind: &str) {
    let start = std::time::Instant::now();
    while !shmkit::inspect::inspect(name).is_ok_and(|i| i.kind.label() == kind) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{name} never became a {kind}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves none behind.
#[cfg(unix)]
struct Killed(std::process::Child);

#[cfg(unix)]
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The write end of a pipe whose read end is already closed: every write to it fails with
/// EPIPE, as when `head` has exited. (A pipe read by this process and closed later would let
/// a small output slip into its buffer before the close.)
#[cfg(target_os = "linux")]
fn closed_pipe() -> Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, which has room for two; O_CLOEXEC
    // keeps other tests' children from inheriting them.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

/// Runs shmkit with standard output going to a pipe nobody reads.
#[cfg(target_os = "linux")]
fn shmkit_closed_stdout(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(closed_pipe())
        .output()
        .expect("run shmkit");
    assert!(
        !stderr(&o).contains("panicked") && o.status.code() != Some(101),
        "shmkit {args:?} panicked: {}",
        stderr(&o)
    );
    o
}

#[cfg(unix)]
fn signal(child: &std::process::Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory-safety preconditions; `pid` is our own unreaped child.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Reads one line of a child's standard output (it prints it once its handler is in place).
#[cfg(unix)]
fn first_line(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

/// Everything a finished child wrote to its (piped) standard error.
#[cfg(unix)]
fn rest_of_stderr(child: &mut std::process::Child) -> String {
    let mut err = String::new();
    let mut pipe = child.stderr.take().expect("stderr is piped");
    pipe.read_to_string(&mut err).expect("read stderr");
    err
}
