//! Acknowledgements from Zenoh's callback to the exporter's thread.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::wire::Ack;

/// The most acknowledgements waiting to be read.
pub(super) const ACKS: usize = 4096;

/// Acknowledgements from Zenoh's callback to the exporter's thread.
#[derive(Default)]
pub(super) struct Acks {
    /// The acknowledgements, how many bad ones came, and whether the exporter waits (a push
    /// wakes it only then).
    queue: Mutex<(VecDeque<Ack>, u64, bool)>,
    wake: Condvar,
}

impl Acks {
    /// Adds an acknowledgement (`Err`: a control sample that is not one, counted).
    pub(super) fn push(&self, a: std::result::Result<Ack, ()>) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        match a {
            Ok(a) => {
                if q.0.len() >= ACKS {
                    q.0.pop_front();
                }
                q.0.push_back(a);
            }
            Err(()) => q.1 += 1,
        }
        let wake = std::mem::take(&mut q.2);
        drop(q);
        if wake {
            self.wake.notify_one();
        }
    }

    /// The acknowledgements that came (waiting at most `d` for one), and how many bad ones.
    pub(super) fn take(&self, d: Duration) -> (VecDeque<Ack>, u64) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.0.is_empty() && q.1 == 0 && !d.is_zero() {
            q.2 = true;
            q = self
                .wake
                .wait_timeout(q, d)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            q.2 = false;
        }
        let bad = std::mem::take(&mut q.1);
        (std::mem::take(&mut q.0), bad)
    }
}
