//! Bridge shmkit channels, broadcasts and services to [Zenoh](https://zenoh.io), so that
//! processes on other machines can take part without changing their code.
//!
//! Shared memory stops at the machine's edge. This crate does not add a network protocol of
//! its own: it forwards between a local shmkit object and a Zenoh key expression, and Zenoh
//! (peer or client mode, its own configuration, its own transports) carries the messages.
//!
//! * [`export()`]: every message of a local broadcast (as one of its subscribers) or SPSC
//!   channel (as its consumer) is put on a Zenoh key;
//! * [`import()`]: every sample arriving on a key expression is published into a local
//!   broadcast (as its publisher), which local processes subscribe to as usual;
//! * [`serve`]: a local [`service`](shmkit::service) server becomes a Zenoh queryable;
//! * [`offer`]: a remote queryable becomes a local service server, so local clients call it.
//!
//! ```no_run
//! use shmkit::channel::broadcast;
//! use shmkit_zenoh::{zenoh, Congestion, ExportOptions, ImportOptions};
//! use zenoh::Wait;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // Machine A: the local broadcast "camera" goes out on the key "lab/camera".
//! let session = zenoh::open(zenoh::Config::default()).wait()?;
//! let sub = broadcast::open_subscriber("camera")?;
//! let out = shmkit_zenoh::export(&session, "lab/camera", sub, &ExportOptions::default())?;
//!
//! // Machine B: "lab/camera" comes in as the local broadcast "camera" (1 MiB messages).
//! let mut opts = ImportOptions::default();
//! opts.max_message(1 << 20).congestion(Congestion::Block);
//! let inn = shmkit_zenoh::import(&session, "lab/camera", "camera", &opts)?;
//! println!("{:?}", inn.stats());
//! # Ok(()) }
//! ```
//!
//! # What is carried
//!
//! The payload of each Zenoh sample is one message, byte for byte, so message boundaries are
//! kept. A 40-byte attachment (layout in the source of `wire.rs`) carries the exporter's
//! stream id, the message's sequence number, the oldest one the exporter can still send again,
//! and the fingerprint of the message layout of a typed channel
//! ([`MessageLayout`](shmkit::channel::MessageLayout); 0 for bytes). Samples without a valid
//! attachment (another Zenoh program putting on the key) are counted as refused and skipped.
//!
//! **Order.** Zenoh keeps the order of one publisher's samples on a key (reliable channel);
//! an importer publishes each stream's messages in sequence order, never out of order.
//!
//! **Typed messages.** An exporter reads the layout its local side records; an importer given
//! a layout ([`ImportOptions::layout`]) creates its broadcast recording it (so local typed
//! subscribers of that layout can join, and others get `LayoutMismatch`), and refuses
//! samples of any other fingerprint, bytes included, with [`Error::LayoutMismatch`] (counted
//! in [`Stats::refused`], shown in [`Stats::last_error`]). An importer without a layout
//! creates a byte broadcast and takes any stream as bytes, as a byte subscriber of a typed
//! broadcast may.
//!
//! # Congestion: `Block` or `Drop`
//!
//! Chosen per bridge ([`Congestion`]), and the two ends of a stream should agree:
//!
//! * **`Block`** (reliable): nothing is lost while the exporter lives. The exporter puts with
//!   Zenoh's `CongestionControl::Block` and keeps every message until each importer it knows
//!   has acknowledged it, up to a window ([`ExportOptions::window`]); when the window is full
//!   it stops taking messages, so back-pressure reaches the local publisher (whose broadcast
//!   then blocks as it does for any slow subscriber). Before any importer has attached it
//!   takes nothing. An importer publishes with back-pressure too, and waits for
//!   [`ImportOptions::min_subscribers`] local subscribers before it takes anything.
//!   Zenoh's own `Block` gives up after its block timeout (5 s by default: then it closes the
//!   link, or drops what it cannot queue, and reports nothing); the acknowledgements cover
//!   that too: an importer that sees a gap asks for the rest again, and one that acknowledges
//!   no progress for a second while more was sent (and is not busy waiting for local room)
//!   gets it again. A test stalls a local subscriber for 6 s with 37 MiB on the way and gets
//!   every message.
//!   When an importer goes away (network loss, a crash) and comes back, it asks for
//!   everything after the last message it published locally, and the exporter sends it
//!   again: a restarted importer finds that point in a small state segment it keeps beside its
//!   broadcast (`<name>.zbridge`), settled against the old broadcast's message count before
//!   the old broadcast is replaced, so nothing is lost or published twice. A cleanly stopped
//!   importer says goodbye, and the exporter stops keeping messages for it. An importer the exporter has not heard from for
//!   [`ExportOptions::forget_after`] is forgotten (it no longer holds the window back).
//! * **`Drop`**: nobody waits. The exporter puts with `CongestionControl::Drop`. Who counts
//!   what:
//!   - the exporter: `messages`, what it put; `dropped`, what it took while no Zenoh
//!     subscriber matched its key (not put at all). So `messages + dropped` is what it took.
//!   - the importer: `messages`, what it published locally; `dropped`, what arrived but its
//!     local broadcast had no room (or no subscriber) for; `lost`, every message of the stream
//!     that never reached it: gaps in the sequence numbers, whoever made them (the exporter's
//!     own drops, Zenoh, a full inbox, messages sent to a killed predecessor that it never
//!     published, messages sent while no importer ran).
//!
//!   So an exporter's `dropped` are among its importers' `lost`: never add the two. Every
//!   message of the stream from where the importer (or its first predecessor on the broadcast)
//!   started to the last one the exporter took is published, dropped, lost or refused (another
//!   layout, too large), each counted once by the importer: for a local subscriber attached
//!   all along (following the importer's restarts), the messages the exporter took `==
//!   received + lost + dropped + refused`. `lost` and `dropped` are kept in the state segment across
//!   restarts of the importer (so after one they include its predecessors'), `messages` is
//!   this importer's own. A gap at the end of a stream, which no later message shows, is
//!   learnt from the exporter's *tail* (where its stream has got to): an importer asks for it
//!   whenever the exporter's liveliness token appears (so on its start and after a
//!   reconnect), and the exporter puts it every second while it puts no data, and once when
//!   it stops. So an importer killed near the end of a stream and restarted after it counts
//!   what it missed, within about a second.
//!
//! Messages larger than the maximum ([`ExportOptions::max_message`],
//! [`ImportOptions::max_message`]) are an error counted in [`Stats::refused`], never
//! truncated.
//!
//! # Faults
//!
//! * The network or the remote bridge goes away: the local side is unaffected (under `Block`
//!   an exporter stops taking messages once its window is full; under `Drop` it drops and
//!   counts); Zenoh reconnects (its `connect` endpoints are retried), and the bridges resume.
//! * The local side dies (a publisher or producer killed): the bridge notices through shmkit's
//!   liveness ([`shmkit::Error::Disconnected`]), then waits for a new one by name and goes on
//!   ([`Stats::local_restarts`]).
//! * Bad samples (no attachment, another layout, too large) are counted and skipped.
//!
//! # Trust
//!
//! The bridges' headers and acknowledgements are not authenticated: they are as trustworthy
//! as the Zenoh network (use Zenoh's own TLS and access control across untrusted networks).
//! A hostile Zenoh peer on the key can make an importer skip or count messages wrongly
//! (forged sequence numbers), make a Block exporter send its window again (forged resumes),
//! or hold it back for [`ExportOptions::forget_after`] (acknowledgements under made-up ids).
//! It cannot make a bridge panic, read or write outside its buffers, or publish a message
//! larger than the local maximum: every header is checked before use, and counters saturate.
//!
//! Zenoh runs subscriber callbacks on the task that reads the link, so the bridges' callbacks
//! never block: they hand samples to the bridge thread (a bounded inbox; a sample that finds
//! it full is dropped, which the importer then sees as a gap, asked for again under Block and
//! counted as lost under Drop).
//!
//! Call these functions from a plain thread or a multi-threaded tokio runtime: Zenoh's
//! blocking calls panic inside a single-threaded (`current_thread`) runtime.
//!
//! What is **not** guaranteed: messages an exporter had taken but not yet delivered when it
//! is killed are lost (its importer counts them under `Drop`, and after a restart sees a new
//! stream); under `Drop`, anything. There is no shared-memory zero-copy across machines: each
//! bridge copies a message once, out of or into shared memory.
//!
//! The exact limits of the `Drop` count: an importer learns the end of a stream only from its
//! exporter, so if the exporter is gone before the importer hears its tail (stopped or killed
//! while the importer was down; killed within a second of its last data, whose end was lost
//! on the way), the messages after the last one the importer met are counted by no importer
//! (the exporter's `messages` still has them). A stream is remembered in the state segment among the 32 used
//! last; a predecessor's gap on an older one is not counted. The count and the new position
//! are two stores in the state segment: an importer killed between them counts that gap
//! twice.

mod export;
mod import;
mod service;
mod state;
mod stats;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use zenoh;

pub use export::{export, ExportOptions, Source};
pub use import::{import, ImportOptions};
pub use service::{offer, serve, ServiceOptions};
pub use stats::Stats;

use stats::Counters;

/// What a bridge does when the other side cannot keep up; see the
/// [crate docs](crate#congestion-block-or-drop).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Congestion {
    /// Reliable: wait (back-pressure), resend after reconnects, lose nothing. The default.
    #[default]
    Block,
    /// Never wait: drop, and count every message dropped or lost.
    Drop,
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shmkit call failed (the local side).
    #[error(transparent)]
    Shmkit(#[from] shmkit::Error),
    /// A Zenoh call failed.
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// A stream carries another message layout than this side expects.
    #[error("{key}: layout mismatch: {reason}")]
    LayoutMismatch {
        /// The key the samples came on.
        key: String,
        /// Both layouts.
        reason: String,
    },
    /// A message is larger than the configured maximum.
    #[error("{key}: a {len}-byte message is larger than the maximum of {max} bytes")]
    TooLarge {
        /// The key (or local name).
        key: String,
        /// The message's length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// Invalid options or key expression.
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn zenoh(e: impl std::fmt::Display) -> Error {
        Error::Zenoh(e.to_string())
    }
}

/// A running bridge: a thread forwarding between the local object and Zenoh. Dropping it
/// stops it (as [`Bridge::stop`], ignoring the result).
#[derive(Debug)]
pub struct Bridge {
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<Result<()>>>,
}

/// How often a bridge thread looks at its stop flag (and its control messages) when idle.
pub(crate) const TICK: Duration = Duration::from_millis(10);

impl Bridge {
    /// Starts `run` on a thread named `name`, with a stop flag and counters.
    pub(crate) fn spawn(
        name: String,
        run: impl FnOnce(&Arc<AtomicBool>, &Arc<Counters>) -> Result<()> + Send + 'static,
    ) -> Result<Bridge> {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let (s, c) = (stop.clone(), counters.clone());
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&s, &c))
            .map_err(|e| Error::Invalid(format!("cannot start the bridge thread: {e}")))?;
        Ok(Bridge {
            stop,
            counters,
            thread: Some(thread),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Whether the bridge has stopped (by [`Bridge::stop`] or an error it could not carry on
    /// after; [`Bridge::stop`] returns that error).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the bridge and waits for its thread (at most a few ticks of 10 ms, or the
    /// duration of a blocked Zenoh `put`). Returns the error that stopped it, if any.
    ///
    /// # Errors
    ///
    /// What the bridge failed with; [`Error::Invalid`] if its thread panicked.
    pub fn stop(mut self) -> Result<Stats> {
        self.halt()?;
        Ok(self.stats())
    }

    fn halt(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::Invalid("the bridge thread panicked".into())),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// How a command line (or a test) describes a Zenoh session, in Zenoh's own terms: the
/// options of Zenoh's example programs (`-m`, `-e`, `-l`, `-c`, `--no-multicast-scouting`).
#[derive(Clone, Debug, Default)]
pub struct SessionConfig {
    /// A Zenoh configuration file (JSON5), loaded first.
    pub file: Option<std::path::PathBuf>,
    /// `peer` or `client` (Zenoh's default: peer).
    pub mode: Option<String>,
    /// Endpoints to connect to, e.g. `tcp/10.0.0.2:7447`.
    pub connect: Vec<String>,
    /// Endpoints to listen on, e.g. `tcp/0.0.0.0:7447`.
    pub listen: Vec<String>,
    /// Turn multicast scouting off (find peers only through `connect`).
    pub no_multicast_scouting: bool,
}

impl SessionConfig {
    /// The Zenoh [`Config`](zenoh::Config): the file if given (else Zenoh's defaults), then
    /// each option set as Zenoh's own tools set it.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a file Zenoh cannot load or a value it refuses.
    pub fn build(&self) -> Result<zenoh::Config> {
        let mut c = match &self.file {
            Some(f) => zenoh::Config::from_file(f)
                .map_err(|e| Error::Invalid(format!("{}: {e}", f.display())))?,
            None => zenoh::Config::default(),
        };
        let mut set = |key: &str, value: String| {
            c.insert_json5(key, &value)
                .map_err(|e| Error::Invalid(format!("zenoh config {key} = {value}: {e}")))
        };
        let list = |v: &[String]| {
            let quoted: Vec<String> = v.iter().map(|e| format!("{e:?}")).collect();
            format!("[{}]", quoted.join(","))
        };
        if let Some(m) = &self.mode {
            set("mode", format!("{m:?}"))?;
        }
        if !self.connect.is_empty() {
            set("connect/endpoints", list(&self.connect))?;
        }
        if !self.listen.is_empty() {
            set("listen/endpoints", list(&self.listen))?;
        }
        if self.no_multicast_scouting {
            set("scouting/multicast/enabled", "false".into())?;
        }
        Ok(c)
    }

    /// Opens a Zenoh session with [`SessionConfig::build`].
    ///
    /// # Errors
    ///
    /// As [`SessionConfig::build`]; [`Error::Zenoh`] if Zenoh cannot open it (an endpoint
    /// in use, say).
    pub fn open(&self) -> Result<zenoh::Session> {
        use zenoh::Wait;
        zenoh::open(self.build()?).wait().map_err(Error::zenoh)
    }
}

/// Waits `d` in ticks, returning early (`true`) when `stop` is set.
pub(crate) fn pause(stop: &AtomicBool, d: Duration) -> bool {
    let end = std::time::Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let now = std::time::Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep((end - now).min(TICK));
    }
}
