//! The atomics shared-memory protocols use, behind a shim so that `loom` runs the real code
//! (crossbeam's pattern; see `src/loom_tests/`).
//!
//! The words live in a mapping and are reached by casting pointers into it
//! (`&*ptr.cast::<AtomicU64>()`), which loom's atomics cannot be: they are not plain memory
//! and must be made with `new`. So [`AtomicU64`] and [`AtomicU32`] are `#[repr(transparent)]`
//! wrappers of the std atomics — the cast stays valid — whose operations:
//!
//! * normally forward to the std atomic (`#[inline(always)]`: the same code as before);
//! * under `cfg(shmkit_loom)` forward to a *shadow*: a loom atomic keyed by the word's address,
//!   made on first use in a loom execution with the value the memory holds then, and dropped
//!   with the execution. The memory itself is then no longer written. So under loom every
//!   access to a word that is shadowed must go through this shim (the types see to that for
//!   the words below), and a mapping must not be replaced by another at the same address
//!   within one execution.
//!
//! Payload bytes are plain memory, copied by the protocol's users; loom checks them through
//! [`wrote`] and [`read`], which mark each 8-byte word of a payload as written or read on a
//! shadow `loom::cell::UnsafeCell`, so that an access not ordered after the other side's
//! (a Relaxed publication, an early release) is reported as a causality violation. They do
//! nothing normally.
//!
//! What goes through the shim: the SPSC ring's frame headers, each channel side's line
//! (position, bell sequence, sleeper count), the broadcast's slots (stamp, length), index
//! and subscriber entries' `next` and `held` words (`channel::broadcast::layout`), and the
//! notifier (`wait::Notifier`), whose OS wait is modelled under loom as a futex (a loom mutex
//! and condition variable per word), and the role words of `crate::liveness` (an object's
//! creator, channel attachments, broadcast subscriber entries): claims, releases and
//! evictions are model-checked. The kernel's side of liveness (OFD locks) is real system
//! calls on each handle's own descriptor — one per handle, so two handles in one process
//! contend as two processes would — made in the order loom's schedule runs the threads.
//! Events' and semaphores' own state words are still std atomics: under loom they are not
//! model-checked (loom sees them as plain, sequentially consistent memory, with no
//! preemption at them).

pub(crate) use std::sync::atomic::Ordering;

macro_rules! shim {
    ($name:ident, $std:ty, $int:ty, $shadow:ident) => {
        /// A shared-memory word: the std atomic normally, a loom shadow under `cfg(shmkit_loom)`.
        #[repr(transparent)]
        #[derive(Debug, Default)]
        pub(crate) struct $name($std);

        impl $name {
            /// A word with value `v` (for words not in a mapping, and tests).
            #[allow(dead_code)]
            pub(crate) const fn new(v: $int) -> Self {
                Self(<$std>::new(v))
            }

            /// The shim over a std atomic (same layout).
            #[allow(dead_code)]
            #[inline(always)]
            pub(crate) fn from_std(a: &$std) -> &Self {
                // SAFETY: `Self` is `repr(transparent)` over the std atomic.
                unsafe { &*(a as *const $std).cast::<Self>() }
            }

            #[cfg(shmkit_loom)]
            fn shadow(&self) -> &'static loom::sync::atomic::$name {
                model::$shadow(self as *const Self as usize, || {
                    self.0.load(Ordering::Relaxed)
                })
            }

            #[inline(always)]
            pub(crate) fn load(&self, order: Ordering) -> $int {
                #[cfg(not(shmkit_loom))]
                return self.0.load(order);
                #[cfg(shmkit_loom)]
                return self.shadow().load(order);
            }

            #[inline(always)]
            pub(crate) fn store(&self, v: $int, order: Ordering) {
                #[cfg(not(shmkit_loom))]
                self.0.store(v, order);
                #[cfg(shmkit_loom)]
                self.shadow().store(v, order);
            }

            #[allow(dead_code)]
            #[inline(always)]
            pub(crate) fn fetch_add(&self, v: $int, order: Ordering) -> $int {
                #[cfg(not(shmkit_loom))]
                return self.0.fetch_add(v, order);
                #[cfg(shmkit_loom)]
                return self.shadow().fetch_add(v, order);
            }

            #[allow(dead_code)]
            #[inline(always)]
            pub(crate) fn fetch_sub(&self, v: $int, order: Ordering) -> $int {
                #[cfg(not(shmkit_loom))]
                return self.0.fetch_sub(v, order);
                #[cfg(shmkit_loom)]
                return self.shadow().fetch_sub(v, order);
            }

            #[allow(dead_code)]
            #[inline(always)]
            pub(crate) fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                #[cfg(not(shmkit_loom))]
                return self.0.compare_exchange(current, new, success, failure);
                #[cfg(shmkit_loom)]
                return self
                    .shadow()
                    .compare_exchange(current, new, success, failure);
            }

            /// The std atomic underneath: for the OS wait, which takes the word's address.
            /// Under loom its value is stale (see the module docs).
            #[allow(dead_code)]
            #[inline(always)]
            pub(crate) fn as_std(&self) -> &$std {
                &self.0
            }
        }
    };
}

shim!(AtomicU64, std::sync::atomic::AtomicU64, u64, u64_at);
shim!(AtomicU32, std::sync::atomic::AtomicU32, u32, u32_at);

/// A memory fence (loom's under `cfg(shmkit_loom)`).
#[inline(always)]
pub(crate) fn fence(order: Ordering) {
    #[cfg(not(shmkit_loom))]
    std::sync::atomic::fence(order);
    #[cfg(shmkit_loom)]
    loom::sync::atomic::fence(order);
}

/// Marks the `len` payload bytes at `ptr` as written by this thread (loom only).
#[inline(always)]
pub(crate) fn wrote(ptr: *const u8, len: usize) {
    #[cfg(shmkit_loom)]
    model::touch(ptr, len, true);
    #[cfg(not(shmkit_loom))]
    let _ = (ptr, len);
}

/// Marks the `len` payload bytes at `ptr` as read by this thread (loom only).
#[inline(always)]
pub(crate) fn read(ptr: *const u8, len: usize) {
    #[cfg(shmkit_loom)]
    model::touch(ptr, len, false);
    #[cfg(not(shmkit_loom))]
    let _ = (ptr, len);
}

/// The loom side: shadows, the futex model, and mutations for negative tests.
#[cfg(shmkit_loom)]
pub(crate) mod model {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicU32, AtomicU64};
    use loom::sync::Condvar;

    /// A deliberate bug a negative test puts into the real code for one execution.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Mutation {
        /// None: the code as it ships.
        None,
        /// The ring publishes a frame's header with Relaxed instead of Release.
        RelaxedPublish,
        /// The broadcast's subscriber skips its SeqCst fence between storing its held word
        /// and loading the slot's stamp (Overwrite Dekker protocol).
        NoSubscriberFence,
        /// The broadcast's publisher skips its SeqCst fence between storing the odd stamp and
        /// loading the held words.
        NoPublisherFence,
        /// Evicting a dead role holder stores the freed word blindly instead of
        /// compare-exchanging the word it tested (`liveness::evict`).
        BlindEvict,
        /// A joining subscriber skips its SeqCst fence between turning ACTIVE and reading
        /// the count it starts at (`broadcast::Options::open_subscriber`).
        NoJoinFence,
        /// A wait set skips its SeqCst fence between counting in on its members and reading
        /// their words (`wait::sleep_any`).
        NoWaitSetFence,
        /// The broadcast's publisher (overwrite) stores the plain odd stamp while it looks for
        /// a holder, without the `CHECKING` mark (`broadcast::publisher::place`).
        NoCheckingMark,
    }

    #[derive(Default)]
    struct Shadows {
        u64s: HashMap<usize, Box<AtomicU64>>,
        u32s: HashMap<usize, Box<AtomicU32>>,
        cells: HashMap<usize, Box<UnsafeCell<()>>>,
        futexes: HashMap<usize, Box<(loom::sync::Mutex<()>, Condvar)>>,
        /// The one queue of every `futex_waitv` sleeper, if this execution has any (see
        /// [`prime_waitv`]).
        waitv: Option<Box<(loom::sync::Mutex<()>, Condvar)>>,
        /// The kernel's side of each role slot (object name, slot): see [`kernel`].
        kernels: HashMap<(String, u32), Box<AtomicU64>>,
        mutation: Option<Mutation>,
        /// Mappings seen: (start, len, the start of the first mapping of the same name).
        maps: Vec<(usize, usize, usize)>,
        first: HashMap<String, usize>,
    }

    struct Shared(Mutex<Shadows>);
    // SAFETY: loom runs all of an execution's threads on one OS thread; the shadows are made,
    // used and dropped within the execution.
    unsafe impl Sync for Shared {}
    // SAFETY: as above.
    unsafe impl Send for Shared {}

    loom::lazy_static! {
        static ref SHADOWS: Shared = Shared(Mutex::new(Shadows::default()));
    }

    /// Starts an execution: call first in every `loom::model` closure that runs shimmed code
    /// (it also makes the shadow table on the main thread, before any spawn, so that making
    /// it adds no synchronisation between the threads under test).
    pub(crate) fn begin(mutation: Mutation) {
        SHADOWS.0.lock().unwrap().mutation = Some(mutation);
    }

    /// Makes the kernel shadow of role slot `slot` of object `name` now (before the threads
    /// that use it start, as for [`prime_u64`]).
    pub(crate) fn prime_kernel(name: &str, slot: u32) {
        let mut s = SHADOWS.0.lock().unwrap();
        s.kernels
            .entry((name.to_owned(), slot))
            .or_insert_with(|| Box::new(AtomicU64::new(0)));
    }

    /// Marks a system call on the kernel's record of role slot `slot` of `name` (an OFD lock
    /// taken or given back: `write`; tested: not): a loom operation on the slot's kernel
    /// shadow, made just before the call. The calls themselves are invisible to loom, so
    /// without this it would not see that a test and a claim of one slot conflict, and would
    /// not try both orders of them. SeqCst: the kernel's lock table is one sequentially
    /// consistent record. A slot not primed is not modelled.
    pub(crate) fn kernel(name: &str, slot: u32, write: bool) {
        let s = SHADOWS.0.lock().unwrap();
        let Some(b) = s.kernels.get(&(name.to_owned(), slot)) else {
            return;
        };
        let p: *const AtomicU64 = &**b;
        drop(s);
        // SAFETY: as in `entry`: the box lives until the table drops with the execution.
        let k = unsafe { &*p };
        if write {
            k.fetch_add(1, super::Ordering::SeqCst);
        } else {
            k.load(super::Ordering::SeqCst);
        }
    }

    /// Whether this execution runs with `m`.
    pub(crate) fn mutated(m: Mutation) -> bool {
        SHADOWS.0.lock().unwrap().mutation == Some(m)
    }

    /// Notes that `name` is mapped at `[base, base + len)`: two mappings of one object (a
    /// producer and a consumer in one process) must share shadows, so addresses are keyed by
    /// the first mapping of the name.
    pub(crate) fn mapped(name: &str, base: *const u8, len: usize) {
        let mut s = SHADOWS.0.lock().unwrap();
        let base = base as usize;
        if s.maps.iter().any(|&(b, _, _)| b == base) {
            return;
        }
        let first = *s.first.entry(name.to_owned()).or_insert(base);
        s.maps.push((base, len, first));
    }

    /// The shadow key of `addr`: its offset in the first mapping of its object's name.
    fn key(s: &Shadows, addr: usize) -> usize {
        s.maps
            .iter()
            .find(|&&(b, l, _)| (b..b + l).contains(&addr))
            .map_or(addr, |&(b, _, first)| addr - b + first)
    }

    fn entry<T>(
        map: impl FnOnce(&mut Shadows) -> &mut HashMap<usize, Box<T>>,
        addr: usize,
        make: impl FnOnce() -> T,
    ) -> &'static T {
        let mut s = SHADOWS.0.lock().unwrap();
        assert!(
            s.mutation.is_some(),
            "atomic_shim::model::begin was not called in this execution"
        );
        let addr = key(&s, addr);
        let b = map(&mut s).entry(addr).or_insert_with(|| Box::new(make()));
        let p: *const T = &**b;
        // SAFETY: the box is neither removed nor moved until the table drops at the end of
        // the execution, and the shimmed code it serves does not outlive the execution.
        unsafe { &*p }
    }

    /// Whether the u64 (`wide`) or u32 word at `addr` has a shadow already.
    fn shadowed(addr: usize, wide: bool) -> bool {
        let s = SHADOWS.0.lock().unwrap();
        let k = key(&s, addr);
        if wide {
            s.u64s.contains_key(&k)
        } else {
            s.u32s.contains_key(&k)
        }
    }

    pub(super) fn u64_at(addr: usize, init: impl FnOnce() -> u64) -> &'static AtomicU64 {
        entry(|s| &mut s.u64s, addr, || AtomicU64::new(init()))
    }

    pub(super) fn u32_at(addr: usize, init: impl FnOnce() -> u32) -> &'static AtomicU32 {
        entry(|s| &mut s.u32s, addr, || AtomicU32::new(init()))
    }

    /// Makes the shadows of the u64 words in `[ptr, ptr + len)` (8-aligned) now. loom counts
    /// making an atomic as a write, so a shadow made lazily by one thread is a race with the
    /// other's first load: the words both sides use are made before the threads start.
    ///
    /// A shadow made here also gets its initial value stored again, SeqCst (the same value,
    /// by the thread that makes it, before any other uses it). loom makes an atomic's initial
    /// value a non-SeqCst store, and lets a SeqCst load return such a store even after a
    /// newer SeqCst store it knows of (it filters stale values only between two SeqCst
    /// stores), which C11 forbids when the initial value happens before the newer store:
    /// without this, a SeqCst-only protocol such as the broadcast's join reads a counter's
    /// initial 0 after the publisher's SeqCst store of 1, a false alarm. Words primed
    /// before, and words not primed, are left alone.
    pub(crate) fn prime_u64(ptr: *const u8, len: usize) {
        for off in (0..len).step_by(8) {
            // SAFETY: the caller's region is inside its mapping and 8-aligned.
            let word = unsafe { &*ptr.add(off).cast::<super::AtomicU64>() };
            if !shadowed(word as *const _ as usize, true) {
                let v = word.0.load(super::Ordering::Relaxed);
                word.shadow().store(v, super::Ordering::SeqCst);
            }
        }
    }

    /// As [`prime_u64`], for one u32 word.
    pub(crate) fn prime_u32(word: &super::AtomicU32) {
        if !shadowed(word as *const _ as usize, false) {
            let v = word.0.load(super::Ordering::Relaxed);
            word.shadow().store(v, super::Ordering::SeqCst);
        }
        let _ = futex(word);
    }

    /// Marks every 8-byte word of `[ptr, ptr + len)` (at least one) written or read.
    pub(super) fn touch(ptr: *const u8, len: usize, write: bool) {
        let start = ptr as usize & !7;
        let end = (ptr as usize + len.max(1)).next_multiple_of(8);
        for addr in (start..end).step_by(8) {
            let cell = entry(|s| &mut s.cells, addr, || UnsafeCell::new(()));
            if write {
                cell.with_mut(|_| ());
            } else {
                cell.with(|_| ());
            }
        }
    }

    fn futex(word: &super::AtomicU32) -> &'static (loom::sync::Mutex<()>, Condvar) {
        entry(
            |s| &mut s.futexes,
            word as *const _ as usize,
            || (loom::sync::Mutex::new(()), Condvar::new()),
        )
    }

    /// FUTEX_WAIT: sleeps while `word` holds `seen`, until [`futex_wake`]. Loom has no
    /// clock, so a wait with a deadline only yields (a wake-up at the deadline, which callers
    /// allow; loom then runs the others first), which lets loom run wait loops that sleep in
    /// slices.
    pub(crate) fn futex_wait(word: &super::AtomicU32, seen: u32, forever: bool) {
        let (lock, cond) = futex(word);
        let guard = lock.lock().unwrap();
        if word.load(super::Ordering::SeqCst) == seen {
            if forever {
                drop(cond.wait(guard).unwrap());
            } else {
                drop(guard);
                loom::thread::yield_now();
            }
        }
    }

    /// FUTEX_WAKE, for every sleeper (the caller has changed `word` already): those in
    /// [`futex_wait`] on `word`, and every [`futex_waitv`] sleeper (which re-checks its words).
    pub(crate) fn futex_wake(word: &super::AtomicU32) {
        let (lock, cond) = futex(word);
        let guard = lock.lock().unwrap();
        cond.notify_all();
        drop(guard);
        if let Some((lock, cond)) = waitv() {
            let _guard = lock.lock().unwrap();
            cond.notify_all();
        }
    }

    /// Makes the `futex_waitv` queue of this execution now, before the threads start (as
    /// for [`prime_u64`]). Executions that never call it pay nothing for it in `futex_wake`.
    pub(crate) fn prime_waitv() {
        let mut s = SHADOWS.0.lock().unwrap();
        s.waitv
            .get_or_insert_with(|| Box::new((loom::sync::Mutex::new(()), Condvar::new())));
    }

    fn waitv() -> Option<&'static (loom::sync::Mutex<()>, Condvar)> {
        let s = SHADOWS.0.lock().unwrap();
        let p: *const (loom::sync::Mutex<()>, Condvar) = &**s.waitv.as_ref()?;
        // SAFETY: as in `entry`: the box lives until the table drops with the execution.
        Some(unsafe { &*p })
    }

    /// FUTEX_WAITV: sleeps while every word holds its value in `words`, until a
    /// [`futex_wake`] of any word. The check and the sleep are atomic with respect to wakes
    /// (one queue, one lock), as the kernel's are. Needs [`prime_waitv`].
    pub(crate) fn futex_waitv(words: &[(&super::AtomicU32, u32)]) {
        let (lock, cond) = waitv().expect("prime_waitv was not called in this execution");
        let guard = lock.lock().unwrap();
        if words
            .iter()
            .all(|(w, seen)| w.load(super::Ordering::SeqCst) == *seen)
        {
            drop(cond.wait(guard).unwrap());
        }
    }
}
