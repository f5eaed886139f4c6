//! The inbox: what Zenoh's callbacks hand to the importer's bridge thread.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use zenoh::sample::Sample;

/// What Zenoh's callbacks hand to the bridge thread. The callbacks never block: Zenoh runs
/// them on the task that reads the link, so a callback that waited (for room in the local
/// broadcast, say) would stop everything else arriving on that link, acknowledgements for an
/// exporter on the same session included, and two bridges could wait for each other forever.
pub(super) struct Inbox {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// What arrived, in order: a data sample, or an exporter's tail (put, or a query's reply).
pub(super) enum Arrival {
    Data(Sample),
    Tail(Sample),
}

#[derive(Default)]
struct Queue {
    samples: VecDeque<Arrival>,
    bytes: usize,
    tokens: Vec<Sample>,
    /// Set when the bridge stops: later callbacks drop what they get.
    closed: bool,
    /// Whether the bridge thread waits (a push wakes it only then: no system call per sample
    /// while it is busy).
    waiting: bool,
}

/// The most samples (and bytes) waiting in the inbox. Beyond, a sample is dropped on arrival:
/// the importer then sees a gap in its stream's sequence numbers, which under Block is asked
/// for again and under Drop is counted as lost, so nothing goes uncounted.
const INBOX: usize = 4096;
const INBOX_BYTES: usize = 256 << 20;

impl Inbox {
    /// An empty, open inbox.
    pub(super) fn new() -> Inbox {
        Inbox {
            queue: Mutex::default(),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a data sample or a tail (one that finds the inbox full is dropped: a data sample
    /// then shows as a gap, a tail comes again).
    pub(super) fn push_sample(&self, s: Arrival) {
        let mut q = self.lock();
        let (Arrival::Data(d) | Arrival::Tail(d)) = &s;
        let len = d.payload().len();
        if q.closed || q.samples.len() >= INBOX || q.bytes + len > INBOX_BYTES {
            return;
        }
        q.bytes += len;
        q.samples.push_back(s);
        let wake = std::mem::take(&mut q.waiting);
        drop(q);
        if wake {
            self.wake.notify_one();
        }
    }

    pub(super) fn push_token(&self, s: Sample) {
        let mut q = self.lock();
        if !q.closed {
            q.tokens.push(s);
            let wake = std::mem::take(&mut q.waiting);
            drop(q);
            if wake {
                self.wake.notify_one();
            }
        }
    }

    /// The samples and the tokens that came, waiting at most `nap` for something.
    pub(super) fn take(&self, nap: Duration) -> (VecDeque<Arrival>, Vec<Sample>) {
        let mut q = self.lock();
        if q.samples.is_empty() && q.tokens.is_empty() {
            q.waiting = true;
            q = self
                .wake
                .wait_timeout(q, nap)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            q.waiting = false;
        }
        q.bytes = 0;
        (
            std::mem::take(&mut q.samples),
            std::mem::take(&mut q.tokens),
        )
    }

    pub(super) fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.samples.clear();
        q.tokens.clear();
    }
}
