//! The exporter: a local broadcast subscriber or channel consumer, forwarding to a Zenoh key.
//!
//! Besides the data, an exporter tells importers where its stream has got to (its *tail*:
//! one past the last message it took, see `wire.rs`), so that an importer that missed the
//! end of a stream (killed, and restarted after the last message; the last messages lost on
//! the way) learns of the gap although no later message shows it: it answers a query on
//! `<key>/@shmkit/tail/<stream>` (asked by each importer when the exporter's liveliness token
//! appears to it), puts its tail there every [`TAIL_EVERY`](exporter::TAIL_EVERY) while it puts no data, and once
//! more when it stops. All come from the exporter's thread, after the data put before them,
//! on the same Zenoh session, so an importer meets them in order with the data.
//!
//! Who counts what under `Drop`: the exporter counts in `messages` what it put and in
//! `dropped` what it took while no Zenoh subscriber matched its key (never put); an importer
//! counts every message of the stream after its starting point that it did not publish as
//! `lost` (it never arrived: dropped by the exporter, by Zenoh, or sent to a killed
//! predecessor) or `dropped` (no room or no subscriber locally). So an exporter's `dropped`
//! are among its importers' `lost`, and the two are never added.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast};
use zenoh::bytes::ZBytes;
use zenoh::handlers::RingChannelHandler;
use zenoh::qos::CongestionControl;
use zenoh::query::{Query, Queryable};
use zenoh::{Session, Wait};

mod acks;
mod exporter;

use crate::stats::Counters;
use crate::wire::{self, Ack, Data, Tail};
use crate::{pause, Bridge, Congestion, Error, Result, TICK};
use exporter::Exporter;

/// The local side an exporter forwards: a broadcast (it joins as one more subscriber) or an
/// SPSC channel (it is the consumer). Give a name, or a side already open (its name is used
/// to attach to a new one when the local publisher or producer dies).
#[derive(Debug)]
pub enum Source {
    /// A broadcast, by name, and the subscriber if already joined.
    Broadcast(String, Option<broadcast::Subscriber>),
    /// An SPSC channel, by name, and the consumer if already open.
    Channel(String, Option<channel::Consumer>),
}

impl Source {
    /// The broadcast `name` (joined when the bridge starts).
    pub fn broadcast(name: &str) -> Source {
        Source::Broadcast(name.to_owned(), None)
    }

    /// The SPSC channel `name` (its consumer side, opened when the bridge starts).
    pub fn channel(name: &str) -> Source {
        Source::Channel(name.to_owned(), None)
    }

    fn name(&self) -> &str {
        match self {
            Source::Broadcast(n, _) | Source::Channel(n, _) => n,
        }
    }
}

impl From<broadcast::Subscriber> for Source {
    fn from(s: broadcast::Subscriber) -> Source {
        Source::Broadcast(s.name().to_owned(), Some(s))
    }
}

impl From<channel::Consumer> for Source {
    fn from(c: channel::Consumer) -> Source {
        Source::Channel(c.name().to_owned(), Some(c))
    }
}

/// How an exporter forwards; see [`export`].
#[derive(Clone, Debug)]
pub struct ExportOptions {
    congestion: Congestion,
    window: usize,
    window_bytes: usize,
    max_message: Option<usize>,
    forget_after: Duration,
    express: bool,
}

impl Default for ExportOptions {
    /// `Block`, a window of 1024 messages or 64 MiB, no maximum beyond the local side's,
    /// importers forgotten after 60 s of silence, Zenoh batching on.
    fn default() -> Self {
        ExportOptions {
            congestion: Congestion::Block,
            window: 1024,
            window_bytes: 64 << 20,
            max_message: None,
            forget_after: Duration::from_secs(60),
            express: false,
        }
    }
}

impl ExportOptions {
    /// `Block` (reliable, the default) or `Drop`.
    pub fn congestion(&mut self, c: Congestion) -> &mut Self {
        self.congestion = c;
        self
    }

    /// Under `Block`, the most messages sent and not yet acknowledged by every importer
    /// (default 1024); when reached, the exporter stops taking local messages.
    pub fn window(&mut self, messages: usize) -> &mut Self {
        self.window = messages.max(1);
        self
    }

    /// The same limit in bytes (default 64 MiB). A single message larger than this is still
    /// sent, alone in the window.
    pub fn window_bytes(&mut self, bytes: usize) -> &mut Self {
        self.window_bytes = bytes.max(1);
        self
    }

    /// The largest message forwarded; a larger local message is refused (counted, reported,
    /// skipped), never truncated. Default: whatever the local side carries.
    pub fn max_message(&mut self, bytes: usize) -> &mut Self {
        self.max_message = Some(bytes);
        self
    }

    /// Under `Block`, how long an importer may stay silent (no acknowledgement) before the
    /// exporter stops keeping messages for it (default 60 s). A killed importer that comes
    /// back within this time loses nothing.
    pub fn forget_after(&mut self, d: Duration) -> &mut Self {
        // Shorter than a few heartbeats (200 ms) would forget live importers.
        self.forget_after = d.max(Duration::from_secs(1));
        self
    }

    /// Zenoh's `express`: send each sample at once instead of batching (lower latency for
    /// small messages, lower throughput). Default off.
    pub fn express(&mut self, on: bool) -> &mut Self {
        self.express = on;
        self
    }
}

/// Forwards every message of the local `source` to the Zenoh key `key`, on a thread of its
/// own, until the returned [`Bridge`] is stopped or dropped.
///
/// A local side that does not exist yet is waited for (every 100 ms); when it dies later
/// (its publisher or producer gone), the bridge waits for a new one of the same name and
/// counts a [local restart](crate::Stats::local_restarts).
///
/// # Errors
///
/// [`Error::Invalid`] for a key that is not a concrete Zenoh key (no wildcards); the
/// shmkit error of opening the local side (but `NotFound`: then it is waited for);
/// [`Error::Zenoh`] if a declaration fails.
pub fn export(
    session: &Session,
    key: &str,
    source: impl Into<Source>,
    options: &ExportOptions,
) -> Result<Bridge> {
    let source = source.into();
    let ke = zenoh::key_expr::KeyExpr::try_from(key.to_owned())
        .map_err(|e| Error::Invalid(format!("{key:?} is not a Zenoh key expression: {e}")))?;
    if ke.is_wild() {
        return Err(Error::Invalid(format!(
            "{key:?}: an exporter puts on one key; wildcards are for importers"
        )));
    }
    let name = source.name().to_owned();
    let channel = matches!(source, Source::Channel(..));
    // A local side that is not there yet is waited for, as one that dies later is.
    let local = match source {
        Source::Broadcast(_, Some(s)) => Some(Local::Broadcast(s)),
        Source::Channel(_, Some(c)) => Some(Local::Channel(c)),
        Source::Broadcast(..) | Source::Channel(..) => match open(&name, channel) {
            Ok(l) => Some(l),
            Err(shmkit::Error::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        },
    };
    let mut ex = Exporter::declare(session, key, options)?;
    let mut local = local;
    Bridge::spawn(format!("export {name}"), move |stop, counters| {
        ex.run(&name, channel, &mut local, stop, counters)
    })
}

/// Opens the local side `name`: the consumer of a channel, or a new subscriber of a broadcast.
fn open(name: &str, channel: bool) -> shmkit::Result<Local> {
    Ok(match channel {
        true => Local::Channel(channel::options().open_consumer(name)?),
        false => Local::Broadcast(broadcast::options().open_subscriber(name)?),
    })
}

/// The local side, open.
enum Local {
    Broadcast(broadcast::Subscriber),
    Channel(channel::Consumer),
}

impl Local {
    /// The copy-out receive (a local writer outside the protocol can only make the copy
    /// wrong).
    fn recv(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> shmkit::Result<usize> {
        match self {
            Local::Broadcast(s) => s.recv_into_timeout(buf, timeout),
            Local::Channel(c) => c.recv_into_timeout(buf, timeout),
        }
    }

    fn fingerprint(&self) -> u64 {
        let layout = match self {
            Local::Broadcast(s) => s.message_layout(),
            Local::Channel(c) => c.message_layout(),
        };
        layout.ok().flatten().map_or(0, |l| l.fingerprint())
    }
}
