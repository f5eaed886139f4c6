//! Simulated machines on one host: each [`Machine`] is a mount namespace with its own private
//! tmpfs on `/dev/shm`, so nothing passes between machines through shared memory; they share
//! the loopback network (and everything else: pids, files, users).
//!
//! A machine is one long-lived *holder* process,
//!
//! ```text
//! unshare --mount --propagation private sh -c 'mount -t tmpfs … /dev/shm; echo ready; read _'
//! ```
//!
//! and [`Machine::command`] runs programs inside it with `nsenter --target <holder> --mount`,
//! so several processes (publisher, bridge, subscriber) share one private `/dev/shm`.
//!
//! Clean-up: dropping the `Machine` (also while a test panics) kills the holder; the tmpfs
//! goes when the last process in the namespace exits, so end the machine's programs first
//! (see [`crate::util::Running`], which kills them on drop). The holder also exits by itself
//! when this test process dies, however it dies: it waits on a pipe from us, and `read` sees
//! end of file when the last writer is gone.
//!
//! Needs root (CAP_SYS_ADMIN) and util-linux's `unshare`/`nsenter`. Where they are missing the
//! tests fail with the reason, unless `SHMKIT_SKIP_NETNS_TESTS=1`: then [`supported`] says so
//! loudly on stderr and returns `false`, and the test returns early.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

/// The environment variable that turns "machines cannot be made here" into a skip.
pub const SKIP_ENV: &str = "SHMKIT_SKIP_NETNS_TESTS";

/// Size of each machine's `/dev/shm`.
const SHM_SIZE: &str = "512m";

/// Whether machines can be made here. If not, panics with the reason, unless
/// `SHMKIT_SKIP_NETNS_TESTS=1`: then prints a loud skip note and returns `false`. Tests that
/// use machines start with `if !machine::supported() { return; }`.
#[track_caller]
pub fn supported() -> bool {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let probe = PROBE.get_or_init(|| Machine::try_new().map(drop));
    match probe {
        Ok(()) => true,
        Err(why) if std::env::var(SKIP_ENV).as_deref() == Ok("1") => {
            eprintln!(
                "\n*** SKIPPED {}: cannot simulate machines here ({SKIP_ENV}=1): {why} ***\n",
                std::thread::current().name().unwrap_or("test")
            );
            false
        }
        Err(why) => panic!(
            "cannot simulate machines (mount namespaces with a private /dev/shm): {why}\n\
             These tests need root (CAP_SYS_ADMIN) and util-linux `unshare` and `nsenter`. \
             Set {SKIP_ENV}=1 to skip them where that is impossible."
        ),
    }
}

/// A simulated machine: a mount namespace with a private tmpfs on `/dev/shm`, kept alive by a
/// holder process that this value owns.
pub struct Machine {
    holder: Child,
    /// Holds the holder's stdin open; the holder exits when it closes.
    _lifeline: ChildStdin,
}

impl Machine {
    /// Makes a machine; panics with the reason if that is impossible (call [`supported`]
    /// first).
    #[track_caller]
    pub fn new() -> Machine {
        Machine::try_new().unwrap_or_else(|why| panic!("cannot make a machine: {why}"))
    }

    /// Makes a machine, or says why not.
    pub fn try_new() -> Result<Machine, String> {
        let script = format!(
            "mount -t tmpfs -o size={SHM_SIZE},mode=1777 shmkit-machine /dev/shm && echo ready \
             && read _"
        );
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `unshare`: {e}"))?;
        let lifeline = holder.stdin.take().expect("stdin is piped");
        let mut line = String::new();
        let _ = BufReader::new(holder.stdout.take().expect("stdout is piped")).read_line(&mut line);
        if line.trim_end() != "ready" {
            let _ = holder.kill();
            let out = holder.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "`unshare --mount` + `mount -t tmpfs … /dev/shm` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let machine = Machine {
            holder,
            _lifeline: lifeline,
        };
        let (ours, its) = (mount_ns("self"), mount_ns(&machine.pid().to_string()));
        if ours == its {
            return Err(format!("the holder shares our mount namespace {ours:?}"));
        }
        Ok(machine)
    }

    /// The holder's pid (the namespace is `/proc/<pid>/ns/mnt`).
    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// A command that runs `program` inside this machine: with its `/dev/shm`, in the current
    /// directory of this process. Configure it (args, env, stdio) and spawn it as usual.
    ///
    /// `Command::current_dir` on the result sets only where `nsenter` starts: entering a mount
    /// namespace moves to its root, and `nsenter --wd` (set here) moves back to the directory
    /// this process was in.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        let wd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        c.arg(format!("--target={}", self.pid()))
            .arg("--mount")
            .arg(format!("--wd={}", wd.display()))
            .arg("--")
            .arg(program);
        c
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The mount namespace of `/proc/<pid>`.
fn mount_ns(pid: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()
}
