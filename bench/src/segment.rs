//! Segment life cycle: create + size + map + unmap + remove of a 1 MiB segment, shmkit against
//! the raw POSIX calls, timed in the same run, interleaved so that drift hits both alike.
//!
//! Two comparisons, because shmkit does by default what the raw recipe does not:
//!
//! * `shmkit (reserve off)` vs `raw shm_open+ftruncate+mmap` — the same work (plus shmkit's
//!   `fchmod`, which makes the mode exact whatever the umask);
//! * `shmkit (default)` vs `raw + fallocate` — shmkit reserves the pages at creation so that a
//!   full `/dev/shm` is an error, not a SIGBUS; the baseline does the same `fallocate`.

use std::time::{Duration, Instant};

use shmkit::{Access, Segment};

use crate::stats::{Row, Summary};

/// This bench's name in tables and JSON.
pub const BENCH: &str = "segment_lifecycle_1MiB";
/// Its title.
pub const TITLE: &str = "segment life cycle, 1 MiB: create + size + map + unmap + remove";

const SIZE: usize = 1 << 20;

fn shmkit_cycle(name: &str, reserve: bool) {
    let seg = Segment::options()
        .size(SIZE)
        .reserve(reserve)
        .create(name)
        .expect("create");
    let view = seg.map(Access::ReadWrite).expect("map");
    std::hint::black_box(view.as_ptr());
    drop(view);
    drop(seg);
}

#[cfg(unix)]
fn raw_cycle(name: &std::ffi::CStr, fallocate: bool) {
    // SAFETY: plain libc calls on a NUL-terminated name; the mapping is unmapped before the fd
    // is closed and nothing else refers to it.
    unsafe {
        let fd = libc::shm_open(
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            0o600,
        );
        assert!(fd >= 0, "shm_open: {}", std::io::Error::last_os_error());
        assert_eq!(libc::ftruncate(fd, SIZE as libc::off_t), 0);
        #[cfg(target_os = "linux")]
        if fallocate {
            assert_eq!(libc::fallocate(fd, 0, 0, SIZE as libc::off_t), 0);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = fallocate;
        let p = libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        std::hint::black_box(p);
        libc::munmap(p, SIZE);
        libc::close(fd);
        libc::shm_unlink(name.as_ptr());
    }
}

fn time(f: &dyn Fn()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// Runs `rounds` rounds; each round runs `per_round` cycles of every variant in a batch, the
/// order of the batches rotating from round to round so that no variant always follows the
/// expensive one (freeing a reserved megabyte disturbs the next few cycles).
pub fn run(rounds: usize, per_round: usize) -> Vec<Row> {
    let name = format!("shmkit-bench-{}", std::process::id());
    #[cfg(unix)]
    let cname = std::ffi::CString::new(format!("/{name}")).unwrap();
    let variants: Vec<Box<dyn Fn()>> = vec![
        Box::new(|| shmkit_cycle(&name, true)),
        Box::new(|| shmkit_cycle(&name, false)),
        #[cfg(unix)]
        Box::new(|| raw_cycle(&cname, false)),
        #[cfg(unix)]
        Box::new(|| raw_cycle(&cname, true)),
    ];
    let mut samples = vec![Vec::with_capacity(rounds * per_round); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let v = (round + k) % variants.len();
            for _ in 0..per_round {
                samples[v].push(time(&variants[v]));
            }
        }
    }
    let mut s = samples.iter_mut().map(|v| Summary::of(v));
    let default = s.next().unwrap();
    let noreserve = s.next().unwrap();
    #[cfg(unix)]
    {
        let raw = Row::base(BENCH, "raw shm_open+ftruncate+mmap", s.next().unwrap());
        let raw_falloc = Row::base(BENCH, "raw + fallocate", s.next().unwrap());
        vec![
            Row::vs(BENCH, "shmkit (reserve off)", noreserve, &raw),
            raw,
            Row::vs(BENCH, "shmkit (default: reserve)", default, &raw_falloc),
            raw_falloc,
        ]
    }
    #[cfg(not(unix))]
    {
        vec![
            Row::base(BENCH, "shmkit (default)", default),
            Row::base(BENCH, "shmkit (reserve off)", noreserve),
        ]
    }
}
