//! A bridge's counters: updated by its thread, read by anyone holding the [`Bridge`](crate::Bridge).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// What a bridge has done so far; see [`Bridge::stats`](crate::Bridge::stats).
///
/// For an importer, every message of a stream from where it started is counted once: in
/// `messages`, `dropped`, `lost` or `refused`. `lost` and `dropped` are kept across restarts
/// of the importer (they include its predecessors' on the same broadcast); `messages` is this
/// bridge's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages forwarded: put on Zenoh (exporter), published locally (importer), or requests
    /// answered (services). A message sent again after a reconnect counts once.
    pub messages: u64,
    /// Payload bytes of those messages.
    pub bytes: u64,
    /// Messages the bridge dropped itself under [`Congestion::Drop`](crate::Congestion::Drop):
    /// an exporter with no importer attached (never put: its importers count them as `lost`
    /// too, so do not add an exporter's `dropped` to an importer's `lost`); an importer whose
    /// local channel had no room or no subscriber.
    pub dropped: u64,
    /// Messages an importer never received (gaps in the stream's sequence numbers, shown by a
    /// later message or by the exporter's tail): under `Drop`, lost in the network, dropped by
    /// the exporter, or sent while this importer (or a killed predecessor) could not publish
    /// them; under `Block`, only messages the exporter could no longer send again (it
    /// restarted, stopped, or forgot this importer).
    pub lost: u64,
    /// Samples or requests refused: not from a shmkit bridge, another message layout
    /// (`LayoutMismatch`), or larger than the configured maximum; for services, requests that
    /// got no answer (no server, the timeout). Counted and skipped.
    pub refused: u64,
    /// Exporter: resume requests from importers it knew (after a restart, a network loss, or a
    /// gap in what arrived). Importer: times an exporter came back after its liveliness token
    /// went away.
    pub reconnects: u64,
    /// Times the local side went away (its publisher or producer exited or died, a service's
    /// server died); the bridge then waits for a new one of the same name.
    pub local_restarts: u64,
    /// The last error the bridge met and carried on after (refused samples, a lost local
    /// side), for the log.
    pub last_error: Option<String>,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) messages: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) local_restarts: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    pub(crate) fn forwarded(&self, len: usize) {
        self.messages.fetch_add(1, Relaxed);
        self.bytes.fetch_add(len as u64, Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Records `err` as the last error (and counts nothing: the caller does).
    pub(crate) fn error(&self, err: impl std::fmt::Display) {
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        *last = Some(err.to_string());
    }

    /// Counts a refused sample and records why.
    pub(crate) fn refuse(&self, why: impl std::fmt::Display) {
        self.refused.fetch_add(1, Relaxed);
        self.error(why);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            messages: self.messages.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            lost: self.lost.load(Relaxed),
            refused: self.refused.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            local_restarts: self.local_restarts.load(Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
