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
//! [`Pair`] makes two machines with network namespaces of their own, joined by a veth pair
//! (falling back to two plain machines on the host's loopback where `ip` cannot do that; the
//! test of the veth pair itself is ignored there, by the cfg `shmkit_test_veth`).
//!
//! Needs root (CAP_SYS_ADMIN) and util-linux's `unshare`/`nsenter`. The tests that make
//! machines are ignored, with that reason, where the build found they cannot run (the cfg
//! `shmkit_test_mount_ns`, see `crates/shmkit/build.rs`; `SHMKIT_TEST_ROOT=1` or `=0` forces
//! them on or off); where they run and a machine cannot be made, they fail, saying why.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

/// Size of each machine's `/dev/shm`.
const SHM_SIZE: &str = "512m";

/// A simulated machine: a mount namespace with a private tmpfs on `/dev/shm`, kept alive by a
/// holder process that this value owns.
pub struct Machine {
    holder: Child,
    /// Holds the holder's stdin open; the holder exits when it closes.
    _lifeline: ChildStdin,
    /// Whether it has a network namespace of its own (see [`Pair`]).
    net: bool,
}

impl Machine {
    /// Makes a machine; panics with the reason if that is impossible.
    #[track_caller]
    pub fn new() -> Machine {
        Machine::try_new().unwrap_or_else(|why| {
            panic!(
                "cannot simulate a machine (a mount namespace with a private /dev/shm): {why}\n\
                 This test needs root (CAP_SYS_ADMIN) and util-linux `unshare` and `nsenter`; \
                 the build found it could run (or SHMKIT_TEST_ROOT=1 said so). \
                 `SHMKIT_TEST_ROOT=0 cargo test` ignores it."
            )
        })
    }

    /// Makes a machine, or says why not.
    pub fn try_new() -> Result<Machine, String> {
        Machine::spawn_holder(false)
    }

    /// Makes a holder: a new mount namespace (and a new network namespace if `net`).
    fn spawn_holder(net: bool) -> Result<Machine, String> {
        let script = format!(
            "mount -t tmpfs -o size={SHM_SIZE},mode=1777 shmkit-machine /dev/shm && echo ready \
             && read _"
        );
        let mut unshare = Command::new("unshare");
        unshare.arg("--mount");
        if net {
            unshare.arg("--net");
        }
        let mut holder = unshare
            .args(["--propagation", "private", "sh", "-c", &script])
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
            net,
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
            .args(self.net.then_some("--net"))
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

/// Two machines on a network: each with its own network namespace, joined by a veth pair, A
/// at `10.213.<subnet>.1/24` and B at `10.213.<subnet>.2/24`, each with its loopback up.
/// Where `ip` cannot do that, two machines on the host's loopback (both addresses
/// `127.0.0.1`), with a note on stderr.
///
/// Nothing is made in the host's network namespace: the veth ends are created inside the
/// machines' namespaces, and the kernel deletes them when those namespaces go, so there is
/// nothing to clean up but the machines, and any subnet number will do (the namespaces are
/// private to this pair, so parallel tests cannot collide).
pub struct Pair {
    /// The first machine.
    pub a: Machine,
    /// The second machine.
    pub b: Machine,
    /// A's address, as B reaches it.
    pub a_addr: std::net::Ipv4Addr,
    /// B's address, as A reaches it.
    pub b_addr: std::net::Ipv4Addr,
    /// Whether the machines have networks of their own (else they share the host's loopback).
    pub veth: bool,
}

impl Pair {
    /// Makes the pair; panics if even machines without their own network cannot be made.
    #[track_caller]
    pub fn new(subnet: u8) -> Pair {
        match Pair::with_veth(subnet) {
            Ok(pair) => pair,
            Err(why) => {
                eprintln!("note: machines share the host's loopback, no veth pair ({why})");
                let localhost = std::net::Ipv4Addr::LOCALHOST;
                Pair {
                    a: Machine::new(),
                    b: Machine::new(),
                    a_addr: localhost,
                    b_addr: localhost,
                    veth: false,
                }
            }
        }
    }

    /// Two machines with network namespaces joined by a veth pair, or why not.
    pub fn with_veth(subnet: u8) -> Result<Pair, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let (a, b) = (Machine::spawn_holder(true)?, Machine::spawn_holder(true)?);
        // Interface names are at most 15 bytes, and unique on the host while `ip` runs.
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("sz{}n{n}", std::process::id());
        let (if_a, if_b) = (format!("{tag}a"), format!("{tag}b"));
        let (pid_a, pid_b) = (a.pid().to_string(), b.pid().to_string());
        run(Command::new("ip").args([
            "link", "add", "name", &if_a, "netns", &pid_a, "type", "veth", "peer", "name", &if_b,
            "netns", &pid_b,
        ]))?;
        let a_addr = std::net::Ipv4Addr::new(10, 213, subnet, 1);
        let b_addr = std::net::Ipv4Addr::new(10, 213, subnet, 2);
        for (m, dev, addr) in [(&a, &if_a, a_addr), (&b, &if_b, b_addr)] {
            run(m.command("ip").args(["link", "set", "lo", "up"]))?;
            run(m
                .command("ip")
                .args(["addr", "add", &format!("{addr}/24"), "dev", dev]))?;
            run(m.command("ip").args(["link", "set", dev, "up"]))?;
        }
        Ok(Pair {
            a,
            b,
            a_addr,
            b_addr,
            veth: true,
        })
    }
}

/// Runs `command` to the end; its stderr if it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The mount namespace of `/proc/<pid>`.
fn mount_ns(pid: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()
}
