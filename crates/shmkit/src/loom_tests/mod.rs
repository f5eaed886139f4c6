//! loom runs the real code: the SPSC ring (`channel::spsc`, through the public `Producer`
//! and `Consumer`), the broadcast's slot protocol (`channel::broadcast`, through the public
//! `Publisher` and `Subscriber`) and the notifier (`wait::Notifier`), their atomics shadowed by
//! loom's through `crate::atomic_shim`. loom explores every interleaving (and every weak-memory
//! outcome it models) of the threads, which the cross-process tests can only sample.
//!
//! Run: `RUSTFLAGS="--cfg shmkit_loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p shmkit --lib --release
//! loom_tests` (with `--target-dir target/loom`, so the normal build is not redone).
//! Role words (`crate::liveness`) are shadowed too, so joins racing joins and evictions
//! racing joins run the real claim and eviction, with the kernel's side (OFD locks) as real
//! system calls on each handle's own descriptor.

use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering};
use std::sync::Arc;

use loom::thread;

use crate::atomic_shim::model::{begin, futex_waitv, prime_u32, prime_waitv, Mutation};
use crate::atomic_shim::{AtomicU32, AtomicU64, Ordering};
use crate::channel::broadcast::{self, Policy, Publisher, Subscriber};
use crate::channel::{self, WaitStrategy};
use crate::sys::Deadline;
use crate::wait::{self, Member, Notifier};
use crate::Error;

mod liveness;
mod notifier;
mod ring;
mod slots;

/// `loom::model`, with room for the real code's many atomic operations per call (loom's
/// default of 1000 branches is for small models); the environment still sets the rest
/// (`LOOM_MAX_PREEMPTIONS`).
///
/// Every name [`unique`] made on this thread is removed when the model ends, also when it
/// ends with a panic: an execution loom cuts short (a negative test's reported violation)
/// never drops its creators, which would leave their segments behind.
fn model(f: impl Fn() + Sync + Send + 'static) {
    struct RemoveNames;
    impl Drop for RemoveNames {
        fn drop(&mut self) {
            for name in NAMES.with(|n| std::mem::take(&mut *n.borrow_mut())) {
                let _ = crate::Segment::remove(&name);
            }
        }
    }
    let _cleanup = RemoveNames;
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    builder.check(f);
}

std::thread_local! {
    /// The names [`unique`] made on this thread (loom runs a model's threads on the test's).
    static NAMES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A channel name no other execution or test uses, removed when the test's model ends.
fn unique(tag: &str) -> String {
    static NEXT: StdAtomicU64 = StdAtomicU64::new(0);
    let n = NEXT.fetch_add(1, StdOrdering::Relaxed);
    let name = format!("shmkit-loom-{tag}-{}-{n}", std::process::id());
    NAMES.with(|names| names.borrow_mut().push(name.clone()));
    name
}

/// Retries `try_send` (a channel's or a publisher's), yielding to the other loom threads,
/// until it sends; any error but `WouldBlock` fails the test.
fn send_retrying(mut try_send: impl FnMut() -> crate::Result<()>) {
    loop {
        match try_send() {
            Ok(()) => return,
            Err(Error::WouldBlock { .. }) => thread::yield_now(),
            Err(e) => panic!("send: {e}"),
        }
    }
}

/// The message `i`: 16 bytes, all `i`.
fn message(i: u8) -> [u8; 16] {
    [i; 16]
}
