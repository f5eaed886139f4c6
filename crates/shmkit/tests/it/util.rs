//! Test helpers: unique names, name guards, and running a function in a child process.
//!
//! Children are this same test binary, re-executed to run only the `child_process_entry` test,
//! with the role and its arguments in environment variables. The entry looks the role up in
//! `crate::ROLES` and exits with its result, so the parent sees a real, separate process.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shmkit::Segment;

pub const ROLE_ENV: &str = "SHMKIT_TEST_CHILD_ROLE";
pub const ARGS_ENV: &str = "SHMKIT_TEST_CHILD_ARGS";
const SEP: char = '\u{1f}';

/// A child that does not finish in this long is killed and the test fails (a hang guard, not a
/// performance assertion).
const HANG_GUARD: Duration = Duration::from_secs(120);

/// A name unique to this process and call: `shmkit-t<pid>-<n>-<tag>`.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "shmkit-t{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes a segment name when dropped, so a failing test leaves nothing behind.
pub struct NameGuard(pub String);

impl NameGuard {
    pub fn new(tag: &str) -> Self {
        NameGuard(unique(tag))
    }
}

impl std::ops::Deref for NameGuard {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for NameGuard {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

/// What a finished child did.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    /// Read through `Debug` when a test fails.
    #[allow(dead_code)]
    pub stderr: String,
}

impl Finished {
    /// Panics with the child's output unless it exited with code 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "child failed: {self:#?}");
        self
    }
}

/// A running child process.
pub struct Child(std::process::Child);

/// Starts `role` (an entry of `crate::ROLES`) in a new process with `args`.
pub fn spawn(role: &str, args: &[&str]) -> Child {
    spawn_under(&[], role, args)
}

/// Starts `role` like [`spawn`], but in a new pid namespace that still shares `/dev/shm`: the
/// set-up of two containers with a shared `/dev/shm` (Kubernetes pods, `docker
/// --ipc=container:`). The child is pid 1 of its namespace, and pids of this namespace mean
/// nothing to it. Killing the returned child kills the process in the namespace too
/// (`--kill-child`).
///
/// Needs root (`unshare --pid`): tests that call it carry
/// `#[cfg_attr(not(shmkit_test_pid_ns), ignore = …)]` (see `crates/shmkit/build.rs`), and
/// panic here, saying why, if they run where it is impossible.
#[cfg(target_os = "linux")]
#[track_caller]
pub fn spawn_in_pid_namespace(role: &str, args: &[&str]) -> Child {
    let unshare = ["unshare", "--pid", "--fork", "--kill-child"];
    let probe = Command::new(unshare[0])
        .args(&unshare[1..])
        .arg("true")
        .stdin(Stdio::null())
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`unshare --pid --fork` failed ({}): {}\n{PID_NS_HINT}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run `unshare`: {e}\n{PID_NS_HINT}"),
    }
    spawn_under(&unshare, role, args)
}

/// What a pid-namespace test that cannot run says.
#[cfg(target_os = "linux")]
const PID_NS_HINT: &str = "This test needs root (CAP_SYS_ADMIN) for a pid namespace; the build \
    found it could run (or SHMKIT_TEST_ROOT=1 said so). `SHMKIT_TEST_ROOT=0 cargo test` ignores it.";

/// Starts `role` with `args`, its command line prefixed by `wrapper` (a program and its
/// arguments) if not empty.
fn spawn_under(wrapper: &[&str], role: &str, args: &[&str]) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    let joined = args.join(&SEP.to_string());
    // Process creation itself can fail transiently: Wine's CreateProcess sometimes returns
    // ERROR_INTERNAL_ERROR (1359) after many rapid spawn/kill rounds. That is the test
    // environment, not the code under test, so retry a few times before failing.
    let mut attempt = 0;
    let child = loop {
        let mut command = match wrapper {
            [] => Command::new(&exe),
            [program, rest @ ..] => {
                let mut c = Command::new(program);
                c.args(rest).arg(&exe);
                c
            }
        };
        let spawned = command
            .args([
                "child_process_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ROLE_ENV, role)
            .env(ARGS_ENV, &joined)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Ok(c) => break c,
            Err(e) if attempt < 5 => {
                attempt += 1;
                eprintln!("spawning a child failed ({e}); retry {attempt}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("spawn child: {e}"),
        }
    };
    Child(child)
}

/// Runs `role` in a child process and waits for it.
pub fn run(role: &str, args: &[&str]) -> Finished {
    spawn(role, args).wait()
}

/// The path of the example program `name`, built next to this test binary (`cargo test`
/// builds the examples); panics with a hint if it is missing.
pub fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| {
            dir.join("examples")
                .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
        })
        .expect("the test binary lives in <target>/<profile>/deps");
    assert!(
        path.exists(),
        "{} missing: cargo test builds examples",
        path.display()
    );
    path
}

/// Starts the example program `name` (see [`example`]) with `args`, its output piped.
pub fn spawn_example(name: &str, args: &[&str]) -> Child {
    let child = Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn example {name}: {e}"));
    Child(child)
}

/// Prints `line` to stdout at once (a child's word to its parent, which waits for it).
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// A subscriber child's receive loop: calls `recv(expect, received)` — which receives the
/// message numbered `expect` (the `received`-th received), checks it and returns `Ok` —
/// until the publisher is gone; counts `Lagged` as missed messages, and says
/// `received <n> missed <m>` for `received_and_missed`.
pub fn receive_until_disconnected(mut recv: impl FnMut(u64, u64) -> shmkit::Result<()>) {
    let (mut received, mut missed, mut expect) = (0u64, 0u64, 0u64);
    loop {
        match recv(expect, received) {
            Ok(()) => {
                received += 1;
                expect += 1;
            }
            Err(shmkit::Error::Lagged { missed: m, .. }) => {
                missed += m;
                expect += m;
            }
            Err(shmkit::Error::Disconnected { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    say(&format!("received {received} missed {missed}"));
}

/// Waits for subscriber children that each print a line `received <n> missed <m>`; each must
/// succeed. Returns the (received, missed) pairs in order.
pub fn received_and_missed(children: Vec<Child>) -> Vec<(u64, u64)> {
    children
        .into_iter()
        .map(|c| {
            let f = c.wait();
            f.assert_success();
            let line = f
                .stdout
                .lines()
                .find(|l| l.starts_with("received"))
                .expect("summary");
            let n: Vec<u64> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
            (n[0], n[1])
        })
        .collect()
}

/// The four-subscriber runs: spawns `role` four times with the arguments `name` and a delay
/// in µs, `0` but for the last one (`slow_subscriber_us`), waits until each says
/// "subscribed", then calls `publish`, which drops the publisher once done. Returns each
/// one's (received, missed), from `received_and_missed`.
pub fn four_subscribers(
    role: &str,
    name: &str,
    policy: shmkit::channel::broadcast::Policy,
    publish: impl FnOnce(),
) -> Vec<(u64, u64)> {
    let mut children: Vec<_> = ["0", "0", "0", slow_subscriber_us(policy)]
        .iter()
        .map(|d| spawn(role, &[name, d]))
        .collect();
    for c in &mut children {
        c.wait_for_line("subscribed");
    }
    publish();
    received_and_missed(children)
}

/// A four-subscriber run under back-pressure: every subscriber got all `total` messages.
pub fn assert_all_received(results: &[(u64, u64)], total: u64) {
    for &(received, missed) in results {
        assert_eq!((received, missed), (total, 0), "{results:?}");
    }
}

/// A four-subscriber run under overwrite: every subscriber received or was told it missed
/// each of the `total` messages, and the slow last one lagged.
pub fn assert_all_accounted_for(results: &[(u64, u64)], total: u64) {
    for &(received, missed) in results {
        assert_eq!(received + missed, total, "{results:?}");
    }
    assert!(
        results[3].1 > 0,
        "the slow subscriber should have lagged: {results:?}"
    );
}

/// How long (µs) the slow one of the four-subscriber tests sleeps per message: 200 under
/// back-pressure (it only slows the publisher down); 5 ms under overwrite, far slower than
/// any publisher (even one under valgrind), so that it surely laps — with 200 µs a publisher
/// slowed by valgrind was overtaken by it, and the "it lagged" assertion depended on speed.
pub fn slow_subscriber_us(policy: shmkit::channel::broadcast::Policy) -> &'static str {
    match policy {
        shmkit::channel::broadcast::Policy::Block => "200",
        _ => "5000",
    }
}

/// Makes `bytes` claim to be a ready shmkit object of `kind` (5 a channel, 6 a broadcast, as
/// `inspect` numbers them): the magic, the layout version, the kind and the ready word, so
/// that the checks behind them run on what follows.
pub fn claim_header(bytes: &mut [u8], kind: u32) {
    bytes[..8].copy_from_slice(b"SHMKIT\0\0");
    bytes[8..12].copy_from_slice(&shmkit::inspect::LAYOUT_VERSION.to_ne_bytes());
    bytes[12..16].copy_from_slice(&kind.to_ne_bytes());
    bytes[28..32].copy_from_slice(&1u32.to_ne_bytes()); // ready
}

/// A new segment `name` holding `bytes`. Keep it while the name is probed: on Windows a
/// mapping lives only while someone has it open.
pub fn segment_of(name: &str, bytes: &[u8]) -> Segment {
    let seg = Segment::create(name, bytes.len()).unwrap();
    seg.map(shmkit::Access::ReadWrite)
        .unwrap()
        .write_at(0, bytes)
        .unwrap();
    seg
}

/// The segment `name`, opened and mapped read-write as raw bytes: how tests reach under an
/// object to corrupt or inspect it.
pub fn raw_view(name: &str) -> shmkit::View {
    shmkit::Segment::open(name)
        .expect("open the segment raw")
        .map(shmkit::Access::ReadWrite)
        .expect("map it read-write")
}

/// Roles every module can use.
pub const ROLES: &[(&str, crate::Role)] = &[("exit_now", |_| {})];

/// The pid of a process that has exited (a child that ran nothing and was reaped).
pub fn dead_pid() -> u32 {
    let child = spawn("exit_now", &[]);
    let pid = child.id();
    child.wait().assert_success();
    pid
}

impl Child {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Reads one line the child printed (without the newline); panics at end of output.
    pub fn read_line(&mut self) -> String {
        let out = self.0.stdout.as_mut().expect("stdout is piped");
        let mut line = Vec::new();
        let mut byte = [0u8];
        // Byte by byte, so nothing after the line is buffered away from `wait`.
        while out.read(&mut byte).expect("read child stdout") == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        String::from_utf8_lossy(&line).trim_end().to_owned()
    }

    /// Reads lines until one equals `want`; panics if the child ends first.
    pub fn wait_for_line(&mut self, want: &str) {
        for _ in 0..100 {
            let line = self.read_line();
            if line == want {
                return;
            }
            if line.is_empty() && self.0.try_wait().ok().flatten().is_some() {
                break;
            }
        }
        panic!("child never printed {want:?}");
    }

    /// Kills the child (SIGKILL / TerminateProcess) and reaps it.
    pub fn kill(mut self) -> ExitStatus {
        self.0.kill().expect("kill child");
        self.0.wait().expect("reap child")
    }

    /// Waits for the child (killing it if it outlives the hang guard) and collects its output.
    pub fn wait(mut self) -> Finished {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > HANG_GUARD {
                let _ = self.0.kill();
                let _ = self.0.wait();
                panic!("child hung for {HANG_GUARD:?}; killed it");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut o) = self.0.stdout.take() {
            let _ = o.read_to_string(&mut stdout);
        }
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

/// The arguments passed to this child by [`spawn`].
pub fn child_args() -> Vec<String> {
    std::env::var(ARGS_ENV)
        .unwrap_or_default()
        .split(SEP)
        .map(str::to_owned)
        .collect()
}

/// Whether `status` is the death of a process that wrote to read-only memory.
pub fn is_access_violation(status: &ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // Linux raises SIGSEGV; some BSDs and macOS raise SIGBUS for a write to a read-only page.
        matches!(status.signal(), Some(libc::SIGSEGV) | Some(libc::SIGBUS))
    }
    #[cfg(windows)]
    {
        const STATUS_ACCESS_VIOLATION: u32 = 0xC000_0005;
        status.code().map(|c| c as u32) == Some(STATUS_ACCESS_VIOLATION)
    }
}

/// Makes an unhandled hardware exception end this process with the exception's code as its
/// exit status, with no debugger or error dialog in between.
///
/// That is what Windows does for a process without a debugger; Wine instead starts `winedbg`,
/// whose exit status says nothing about the fault. The fault itself is still raised by the OS:
/// the filter only reports the code the exception record carries. A no-op elsewhere.
pub fn exit_with_exception_code_on_crash() {
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Diagnostics::Debug::{
            SetUnhandledExceptionFilter, EXCEPTION_POINTERS,
        };
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};

        unsafe extern "system" fn filter(info: *const EXCEPTION_POINTERS) -> i32 {
            // SAFETY: Windows passes valid exception pointers to the top-level filter.
            let code = unsafe { (*(*info).ExceptionRecord).ExceptionCode };
            // SAFETY: terminating the current process with a code has no preconditions.
            unsafe { TerminateProcess(GetCurrentProcess(), code as u32) };
            0
        }
        // SAFETY: installs a filter function that lives for the whole program.
        unsafe { SetUnhandledExceptionFilter(Some(filter)) };
    }
}

/// Entries in `/dev/shm` whose name starts with `prefix` (Linux only).
#[cfg(target_os = "linux")]
pub fn dev_shm_entries(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .expect("read /dev/shm")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect()
}
