//! What a liveness test costs (Linux): shmkit asks the kernel whether a role's holder is still
//! there with `fcntl(F_OFD_GETLK)` on the segment's descriptor, at most once per handle per
//! 50 ms while waiting (never on the fast path). The baseline is the pid test shmkit used
//! before: `kill(pid, 0)` plus reading `/proc/<pid>/stat` to tell a zombie from a live process
//! — which was wrong across pid namespaces and after pid reuse, and is here only for its cost.

use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::stats::{Row, Summary};

pub const BENCH: &str = "liveness_test";
pub const TITLE: &str = "one liveness test of a role's holder (a system call; rate-limited)";

/// Times `batches` batches of `per` calls of `f`.
fn time(batches: usize, per: usize, mut f: impl FnMut() -> bool) -> Summary {
    let mut samples = Vec::with_capacity(batches);
    let mut alive = 0usize;
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..per {
            alive += usize::from(std::hint::black_box(f()));
        }
        samples.push(t.elapsed() / per as u32);
    }
    assert_eq!(
        alive,
        batches * per,
        "the holder must test alive every time"
    );
    Summary::of(&mut samples)
}

pub fn run(quick: bool) -> Vec<Row> {
    let (batches, per) = if quick { (5, 100) } else { (50, 2000) };
    let name = format!("shmkit-bench-{}-liveness", std::process::id());
    let path = format!("/dev/shm/{name}");
    // The holder: this open file description holds a lock on one byte, as a channel side
    // does; the tester opens the file again (another description) and asks.
    let holder = std::fs::File::create(&path).expect("create the segment");
    let tester = std::fs::File::open(&path).expect("open it again");
    let _ = std::fs::remove_file(&path);
    let byte = |kind: i32| {
        // SAFETY: a zeroed flock is a valid value; l_pid must be 0 for OFD commands.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = kind as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = 1 << 62;
        fl.l_len = 1;
        fl
    };
    let mut fl = byte(libc::F_WRLCK);
    // SAFETY: a valid descriptor and flock.
    let r = unsafe { libc::fcntl(holder.as_raw_fd(), libc::F_OFD_SETLK, &mut fl) };
    assert_eq!(r, 0, "take the lock");
    let ofd = time(batches, per, || {
        let mut fl = byte(libc::F_WRLCK);
        // SAFETY: a valid descriptor and flock, which the call may write.
        unsafe { libc::fcntl(tester.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) };
        fl.l_type != libc::F_UNLCK as libc::c_short
    });
    let pid = std::process::id() as i32;
    let proc_stat = format!("/proc/{pid}/stat");
    let by_pid = time(batches, per, || {
        // SAFETY: kill with signal 0 only checks that the process exists.
        let exists = unsafe { libc::kill(pid, 0) } == 0;
        let stat = std::fs::read_to_string(&proc_stat).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].trim_start().chars().next());
        exists && !matches!(state, Some('Z' | 'X'))
    });
    let base = Row::base(
        BENCH,
        "kill(pid, 0) + /proc/<pid>/stat (the old pid test)",
        by_pid,
    );
    let row = Row::vs(BENCH, "F_OFD_GETLK on the segment (shmkit)", ofd, &base);
    vec![row, base]
}
