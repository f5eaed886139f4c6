//! Test helpers: unique names, the example programs, child processes that are killed when a
//! test fails, and roles this binary plays when re-executed as a child.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub const ROLE_ENV: &str = "SHMKIT_TEST_CHILD_ROLE";
pub const ARGS_ENV: &str = "SHMKIT_TEST_CHILD_ARGS";
const SEP: char = '\u{1f}';

/// A child not finished in this long is killed and the test fails (a hang guard, not a
/// performance assertion).
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// A name unique to this process and call: `shmkit-z<pid>-<n>-<tag>`.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "shmkit-z{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The path of this crate's example program `name` (`cargo test` builds the examples).
pub fn example(name: &str) -> PathBuf {
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
        "{} missing: build the examples (cargo test does)",
        path.display()
    );
    path
}

/// Makes `command` (a fresh `Command::new(std::env::current_exe())`, or one that runs it in a
/// machine) play `role` of [`crate::roles`] with `args`.
pub fn as_role(command: &mut Command, role: &str, args: &[&str]) {
    command
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(ROLE_ENV, role)
        .env(ARGS_ENV, args.join(&SEP.to_string()));
}

/// The arguments a role was given.
pub fn child_args() -> Vec<String> {
    std::env::var(ARGS_ENV)
        .unwrap_or_default()
        .split(SEP)
        .map(str::to_owned)
        .collect()
}

/// Prints `line` to stdout at once (a child's word to its parent).
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// A running child process, killed and reaped when dropped (so a failing test leaves no
/// process behind, and no machine kept alive by one). Its stdout is read line by line on a
/// thread; its stderr is collected for failure messages.
pub struct Running {
    what: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// What a finished child did.
#[derive(Debug)]
pub struct Finished {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    /// Read through `Debug` when a test fails.
    #[allow(dead_code)]
    pub stderr: String,
}

impl Finished {
    /// Panics with everything the child said unless it exited with code 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "{} failed: {self:#?}", self.what);
        self
    }

    /// The last line of stdout parsed as JSON (the programs' summary line).
    #[track_caller]
    pub fn summary(&self) -> serde_json::Value {
        let line = self
            .stdout
            .iter()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("{} printed no JSON summary: {self:#?}", self.what));
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }
}

impl Running {
    /// Spawns `command` with piped stdout and stderr (and no stdin); `what` names it in
    /// failure messages.
    #[track_caller]
    pub fn spawn(what: &str, mut command: Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what} ({command:?}): {e}"));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Running {
            what: what.to_owned(),
            child,
            lines,
            stdout: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Waits for the next stdout line; `None` at end of output or after `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        self.stdout.push(line.clone());
        Some(line)
    }

    /// Reads stdout until a line equals `want`; panics (with the child's output) if the child
    /// ends or is silent for the hang guard first.
    #[track_caller]
    pub fn wait_for_line(&mut self, want: &str) {
        while let Some(line) = self.next_line(HANG_GUARD) {
            if line == want {
                return;
            }
        }
        let what = self.what.clone();
        panic!("{what} never printed {want:?}: {:#?}", self.finish());
    }

    /// Waits for the child to exit (killing it after the hang guard) and collects its output.
    #[track_caller]
    pub fn finish(&mut self) -> Finished {
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > HANG_GUARD {
                let _ = self.child.kill();
                break self.child.wait().expect("reap");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stdout.push(line);
        }
        let stderr = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        Finished {
            what: self.what.clone(),
            status,
            stdout: std::mem::take(&mut self.stdout),
            stderr,
        }
    }

    /// Reads stdout until a line starts with `prefix`; returns the rest of it. Panics like
    /// [`Running::wait_for_line`].
    #[track_caller]
    pub fn wait_for_prefix(&mut self, prefix: &str) -> String {
        while let Some(line) = self.next_line(HANG_GUARD) {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
        let what = self.what.clone();
        panic!("{what} never printed {prefix:?}…: {:#?}", self.finish());
    }

    /// Waits like [`Running::finish`] and asserts success.
    #[track_caller]
    pub fn success(mut self) -> Finished {
        let f = self.finish();
        f.assert_success();
        f
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
