//! `record`: channels and broadcasts into an MCAP file, and the mapping between the two that
//! `replay` reads back.
//!
//! # The MCAP mapping
//!
//! * One MCAP channel per object, its topic the object's name, its message encoding
//!   [`MESSAGE_ENCODING`] (`shmkit-raw`: each message's bytes exactly as they were sent, typed
//!   ones included).
//! * Its schema names the object's kind and typed layout: schema encoding [`SCHEMA_ENCODING`]
//!   (`shmkit-layout`), name the layout's tag (or [`BYTES_SCHEMA`] for a byte object,
//!   [`TYPED_SCHEMA`] for a typed one without a tag), data a JSON object `{"kind", "size",
//!   "align", "tag", "fingerprint"}` (`size`, `align`, `tag` null for bytes; `fingerprint` a
//!   hex string, as JSON numbers past 2^53 are not safe everywhere).
//! * The channel's metadata holds what `replay` needs to make the object again: `shmkit.kind`
//!   (`channel` or `broadcast`), `shmkit.capacity` (a channel's ring bytes), `shmkit.slots`,
//!   `shmkit.slot_size`, `shmkit.max_subscribers`, `shmkit.policy` (`block` or `overwrite`),
//!   and `shmkit.mode` (octal permission bits, where the OS has them).
//! * Each message: log time and publish time the time the recorder received it (ns since
//!   the Unix epoch; the objects carry no send time), sequence its number (a broadcast's
//!   sequence number, a channel's count of messages the recorder took before it) modulo 2^32,
//!   as MCAP's sequence is 32 bits: past 2^32 messages it wraps, and nothing reads it back.
//! * A loss (a broadcast subscriber that fell a whole ring behind, under the `overwrite`
//!   policy) is a message on the channel [`LOSS_TOPIC`] (`shmkit/loss`, JSON, with a JSON
//!   schema): `{"topic", "lost", "before_seq"}`, `lost` messages gone before the one numbered
//!   `before_seq`. The totals are in the metadata record `shmkit` written at the end.
//!
//! # Reading
//!
//! One thread per object, each blocked in its own `recv`, hands messages to the thread that
//! owns the file through a bounded queue. One loop polling every object with short timeouts
//! would keep a busy broadcast waiting while it looks at idle ones, and lag is what loses
//! messages; the threads cost nothing while idle. When the file cannot keep up the queue
//! fills, the readers wait, and what happens then is the object's policy: a blocking
//! broadcast or a channel holds its writer back, an overwriting broadcast overwrites, and
//! the loss is recorded.
//!
//! # Durability
//!
//! Messages go into chunks; a chunk is closed and flushed to the file when it holds
//! `--chunk-size` bytes or is `--flush-every` old, and at the end. A reader that reads
//! without the summary (as `mcap recover` or a stream reader does) gets every closed chunk of
//! a recorder that was killed: a kill loses the open chunk, at most `--flush-every` (or
//! `--chunk-size`) of messages.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use shmkit::channel::broadcast::Policy;
use shmkit::channel::{MessageLayout, WaitStrategy};

use crate::cli::OpenWait;
use crate::endpoint::{Got, Reader, TopicKind};
use crate::out::{errln, outln};
use crate::stop::Stop;
use crate::units::{human, parse_duration, parse_size};

/// The message encoding of a recorded object: its bytes as they were sent.
pub const MESSAGE_ENCODING: &str = "shmkit-raw";
/// The schema encoding of a recorded object: JSON describing its kind and typed layout.
pub const SCHEMA_ENCODING: &str = "shmkit-layout";
/// The schema name of a byte object.
pub const BYTES_SCHEMA: &str = "shmkit/bytes";
/// The schema name of a typed object whose layout has no tag.
pub const TYPED_SCHEMA: &str = "shmkit/typed";
/// The topic (and schema name) of loss records.
pub const LOSS_TOPIC: &str = "shmkit/loss";
/// The prefix of the channel metadata keys.
const META: &str = "shmkit.";

/// How often a waiting reader looks whether the recording is over.
const TICK: Duration = Duration::from_millis(100);

/// `shmkit record`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The channels and broadcasts to record: names, or globs (`cam*`, `?`) matched against
    /// the objects on this machine (Linux and Windows: macOS cannot list).
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// The MCAP file to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub wait: OpenWait,
    /// Stop after this long, e.g. 10s, 5m.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many messages (of all objects together).
    #[arg(long)]
    pub count: Option<u64>,
    /// Close a chunk (and flush it to the file) when it holds this many bytes.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub chunk_size: u64,
    /// Close a chunk (and flush it to the file) when it is this old: what a killed recorder
    /// loses at most.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub flush_every: Duration,
    /// Print the final summary as JSON on standard output (fields in the README).
    #[arg(long)]
    pub json: bool,
}

/// The recorded shape of an object: what `replay` needs to make it again.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Channel or broadcast.
    pub kind: TopicKind,
    /// A channel's ring bytes.
    pub capacity: Option<usize>,
    /// A broadcast's slots, slot size and subscriber places.
    pub slots: Option<usize>,
    pub slot_size: Option<usize>,
    pub max_subscribers: Option<usize>,
    /// A broadcast's policy.
    pub policy: Option<Policy>,
    /// Unix permission bits.
    pub mode: Option<u32>,
}

impl Shape {
    /// The shape of the object `reader` reads.
    fn of(reader: &Reader) -> Shape {
        let mode = shmkit::inspect::inspect(reader.name())
            .ok()
            .and_then(|i| i.mode);
        match reader {
            Reader::Channel { rx, .. } => Shape {
                kind: TopicKind::Channel,
                capacity: Some(rx.capacity()),
                slots: None,
                slot_size: None,
                max_subscribers: None,
                policy: None,
                mode,
            },
            Reader::Broadcast(s) => Shape {
                kind: TopicKind::Broadcast,
                capacity: None,
                slots: Some(s.slots()),
                slot_size: Some(s.max_message_len()),
                max_subscribers: Some(s.max_subscribers()),
                policy: Some(s.policy()),
                mode,
            },
        }
    }

    /// The MCAP channel metadata that holds it.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(format!("{META}{k}"), v);
        };
        put("kind", self.kind.id().into());
        let nums = [
            ("capacity", self.capacity),
            ("slots", self.slots),
            ("slot_size", self.slot_size),
            ("max_subscribers", self.max_subscribers),
        ];
        for (k, v) in nums {
            if let Some(v) = v {
                put(k, v.to_string());
            }
        }
        if let Some(p) = self.policy {
            put("policy", policy_id(p).into());
        }
        if let Some(mode) = self.mode {
            put("mode", format!("{mode:o}"));
        }
        m
    }

    /// The shape the metadata of an MCAP channel holds: `None` if it was not written by
    /// `shmkit record` (no `shmkit.kind`); an error naming the key if a value is wrong.
    pub fn from_metadata(m: &BTreeMap<String, String>) -> Result<Option<Shape>> {
        let Some(kind) = m.get(&format!("{META}kind")) else {
            return Ok(None);
        };
        let kind = match kind.as_str() {
            "channel" => TopicKind::Channel,
            "broadcast" => TopicKind::Broadcast,
            k => bail!("unknown {META}kind {k:?} (expected channel or broadcast)"),
        };
        let num = |k: &str| -> Result<Option<usize>> {
            m.get(&format!("{META}{k}"))
                .map(|v| v.parse().with_context(|| format!("{META}{k} is {v:?}")))
                .transpose()
        };
        let policy = match m.get(&format!("{META}policy")).map(String::as_str) {
            None => None,
            Some("block") => Some(Policy::Block),
            Some("overwrite") => Some(Policy::Overwrite),
            Some(p) => bail!("unknown {META}policy {p:?} (expected block or overwrite)"),
        };
        let mode = m
            .get(&format!("{META}mode"))
            .map(|v| u32::from_str_radix(v, 8).with_context(|| format!("{META}mode is {v:?}")))
            .transpose()?;
        Ok(Some(Shape {
            kind,
            capacity: num("capacity")?,
            slots: num("slots")?,
            slot_size: num("slot_size")?,
            max_subscribers: num("max_subscribers")?,
            policy,
            mode,
        }))
    }
}

/// `block` or `overwrite`.
pub fn policy_id(p: Policy) -> &'static str {
    match p {
        Policy::Block => "block",
        Policy::Overwrite => "overwrite",
    }
}

/// The JSON of a schema of encoding [`SCHEMA_ENCODING`].
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SchemaJson {
    pub kind: String,
    pub size: Option<u64>,
    pub align: Option<u64>,
    pub tag: Option<String>,
    pub fingerprint: Option<String>,
}

impl SchemaJson {
    /// The schema name and JSON of an object of `kind` with `layout`.
    pub fn new(kind: TopicKind, layout: Option<&MessageLayout>) -> (String, SchemaJson) {
        let name = match layout {
            None => BYTES_SCHEMA.to_owned(),
            Some(l) => l.tag().unwrap_or(TYPED_SCHEMA).to_owned(),
        };
        let json = SchemaJson {
            kind: kind.id().into(),
            size: layout.map(MessageLayout::size),
            align: layout.map(MessageLayout::align),
            tag: layout.and_then(|l| l.tag().map(str::to_owned)),
            fingerprint: layout.map(|l| format!("{:#018x}", l.fingerprint())),
        };
        (name, json)
    }

    /// The typed layout it describes (`None` for bytes); an error if the fingerprint is not
    /// the one these numbers give (a tag longer than the 47 bytes an object keeps was
    /// recorded shortened, and its layout cannot be made again).
    pub fn layout(&self) -> Result<Option<MessageLayout>> {
        let (Some(size), Some(align)) = (self.size, self.align) else {
            return Ok(None);
        };
        let l = MessageLayout::new(size, align, self.tag.as_deref());
        if let Some(f) = &self.fingerprint {
            let made = format!("{:#018x}", l.fingerprint());
            if !made.eq_ignore_ascii_case(f) {
                bail!(
                    "the recorded layout ({size} bytes, align {align}, tag {:?}) has fingerprint \
                     {f}, these numbers give {made} (the tag was probably shortened when it was \
                     stored)",
                    self.tag
                );
            }
        }
        Ok(Some(l))
    }
}

/// The JSON schema of the loss records.
pub const LOSS_SCHEMA: &str = r#"{"type":"object","title":"shmkit/loss","properties":{"topic":{"type":"string"},"lost":{"type":"integer"},"before_seq":{"type":"integer"}}}"#;

/// Whether `name` matches `pattern`, where `*` is any run of characters and `?` any one.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic backtracking match: remember the last `*` and where it started matching.
    let (mut i, mut j, mut star, mut from) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            from = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            from += 1;
            j = from;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Whether `s` is a glob rather than a name.
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// The objects `args` name, each with its kind, waiting up to `timeout` for each name (and
/// for each glob to match something).
fn resolve(args: &[String], timeout: Duration) -> Result<Vec<(String, TopicKind)>> {
    let deadline = Instant::now().checked_add(timeout);
    let mut out: Vec<(String, TopicKind)> = Vec::new();
    for a in args {
        let found: Vec<(String, TopicKind)> = if is_glob(a) {
            loop {
                let mut names = shmkit::inspect::list().context("listing the objects")?;
                names.sort();
                let matched: Vec<_> = names
                    .into_iter()
                    .filter(|n| glob_match(a, n))
                    .filter_map(|n| match TopicKind::of(&n) {
                        Ok(Some(k)) => Some((n, k)),
                        _ => None, // something else, or gone meanwhile
                    })
                    .collect();
                if !matched.is_empty() {
                    break matched;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    bail!(
                        "no channel or broadcast matches {a:?}{}",
                        if timeout.is_zero() {
                            " — see `shmkit ls`, or give --wait"
                        } else {
                            ""
                        }
                    );
                }
                thread::sleep(Duration::from_millis(50));
            }
        } else {
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            vec![(a.clone(), TopicKind::wait_for(a, left)?)]
        };
        for f in found {
            if !out.iter().any(|(n, _)| *n == f.0) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// What a reader thread hands to the writer.
enum Event {
    Message {
        topic: usize,
        seq: u64,
        time: u64,
        data: Vec<u8>,
    },
    Lost {
        topic: usize,
        lost: u64,
        before_seq: u64,
        time: u64,
    },
    /// The thread has ended: its writer went away (`Ok(true)`), the recording is over
    /// (`Ok(false)`), or reading failed.
    Ended { topic: usize, closed: Result<bool> },
}

/// Nanoseconds since the Unix epoch.
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What the reader threads share.
struct Shared {
    /// The recording is over: stop reading.
    done: AtomicBool,
    /// Messages still to take under --count (`u64::MAX`: no limit). A channel's reader
    /// takes one before it receives and gives it back if nothing came, so no more than
    /// --count messages are ever taken out of a channel; after giving one back it pauses, so
    /// that another channel's reader waiting for the last ones gets its turn. A broadcast's
    /// reader takes nothing from anyone, so it takes one only once it has a message (waiting
    /// for one that a channel's reader may give back, and dropping the message once the
    /// recording is over), never holding one while it waits: a quiet broadcast would
    /// otherwise keep the last one from a channel that has messages.
    budget: AtomicU64,
}

impl Shared {
    /// Takes one message of the budget, if any is left.
    fn take(&self) -> bool {
        self.budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| match b {
                u64::MAX => Some(b),
                0 => None,
                b => Some(b - 1),
            })
            .is_ok()
    }

    /// [`Shared::take`], waiting while a channel's reader may give one back; `false` once
    /// the recording is over.
    fn take_when_free(&self) -> bool {
        while !self.take() {
            if self.done.load(Ordering::Relaxed) {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Gives back one message [`Shared::take`] took.
    fn give_back(&self) {
        let _ = self
            .budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b != u64::MAX).then(|| b + 1)
            });
    }
}

/// Reads `reader` until the recording is over or its writer goes away.
fn read_topic(topic: usize, mut reader: Reader, tx: SyncSender<Event>, shared: &Shared) {
    let mut buf = Vec::new();
    let channel = reader.kind() == TopicKind::Channel;
    let closed = loop {
        if shared.done.load(Ordering::Relaxed) {
            break Ok(false);
        }
        if channel && !shared.take() {
            // Another reader holds the last ones; the recording ends when they arrive.
            thread::sleep(Duration::from_millis(1));
            continue;
        }
        // What a channel's reader took, when nothing came of it.
        let give_back = || {
            if channel {
                shared.give_back();
            }
        };
        let ev = match reader.recv(&mut buf, TICK) {
            Ok(Got::Message { .. }) if !channel && !shared.take_when_free() => {
                break Ok(false); // the count is reached: this one is not recorded
            }
            Ok(Got::Message { seq, .. }) => Event::Message {
                topic,
                seq,
                time: now_ns(),
                data: std::mem::take(&mut buf),
            },
            Ok(Got::Lost(lost)) => {
                give_back();
                let before_seq = match &reader {
                    Reader::Broadcast(s) => s.next_seq(),
                    Reader::Channel { taken, .. } => *taken,
                };
                Event::Lost {
                    topic,
                    lost,
                    before_seq,
                    time: now_ns(),
                }
            }
            Ok(Got::Timeout) => {
                give_back();
                if channel {
                    thread::sleep(Duration::from_millis(1)); // another channel's turn
                }
                continue;
            }
            Ok(Got::Closed) => {
                give_back();
                break Ok(true);
            }
            Err(e) => {
                give_back();
                break Err(e);
            }
        };
        if tx.send(ev).is_err() {
            return; // the writer has gone (it failed); nothing is left to tell
        }
    };
    let _ = tx.send(Event::Ended { topic, closed });
}

/// One recorded object.
struct Topic {
    name: String,
    kind: TopicKind,
    channel: u16,
    messages: u64,
    bytes: u64,
    lost: u64,
}

/// The summary of a recording, as `--json` prints it.
#[derive(Serialize)]
struct Summary<'a> {
    file: String,
    /// Why the recording ended: `interrupted`, `duration`, `count`, `closed` (every writer
    /// went away).
    ended: &'a str,
    seconds: f64,
    messages: u64,
    bytes: u64,
    lost: u64,
    topics: Vec<TopicJson<'a>>,
}

#[derive(Serialize)]
struct TopicJson<'a> {
    name: &'a str,
    kind: &'a str,
    messages: u64,
    bytes: u64,
    lost: u64,
}

/// `shmkit record`.
pub fn record(args: RecordArgs) -> Result<ExitCode> {
    // Nothing is held while waiting for the names: Ctrl-C ends the wait at once.
    let found = resolve(&args.names, args.wait.open_timeout())?;
    let chunk_size = usize::try_from(args.chunk_size).context("--chunk-size too large")?;
    let stop = Stop::install()?;
    let mut readers = Vec::new();
    for (name, kind) in &found {
        readers.push(Reader::open_kind(name, *kind, WaitStrategy::Adaptive)?);
    }
    let file = if args.force {
        File::create(&args.output)
    } else {
        File::create_new(&args.output)
    };
    let file = file.with_context(|| {
        format!(
            "creating {}{}",
            args.output.display(),
            if args.force {
                ""
            } else {
                " (--force overwrites)"
            }
        )
    })?;
    let mut mcap = mcap::WriteOptions::new()
        .compression(None)
        .chunk_size(None) // closed here, by size and age
        .library(format!("shmkit {}", env!("CARGO_PKG_VERSION")))
        .create(BufWriter::new(file))
        .with_context(|| format!("writing {}", args.output.display()))?;
    let mut topics = Vec::new();
    for r in &readers {
        let layout = r.layout()?;
        let (schema_name, schema) = SchemaJson::new(r.kind(), layout.as_ref());
        let schema_id =
            mcap.add_schema(&schema_name, SCHEMA_ENCODING, &serde_json::to_vec(&schema)?)?;
        let meta = Shape::of(r).to_metadata();
        let channel = mcap.add_channel(schema_id, r.name(), MESSAGE_ENCODING, &meta)?;
        topics.push(Topic {
            name: r.name().to_owned(),
            kind: r.kind(),
            channel,
            messages: 0,
            bytes: 0,
            lost: 0,
        });
    }
    mcap.flush()?;

    let shared = Arc::new(Shared {
        done: AtomicBool::new(false),
        budget: AtomicU64::new(args.count.unwrap_or(u64::MAX)),
    });
    let (tx, rx) = mpsc::sync_channel::<Event>(1024);
    let mut threads = Vec::new();
    for (i, r) in readers.into_iter().enumerate() {
        let (tx, shared) = (tx.clone(), Arc::clone(&shared));
        threads.push(
            thread::Builder::new()
                .name(format!("record {}", topics[i].name))
                .spawn(move || read_topic(i, r, tx, &shared))
                .context("starting a reader thread")?,
        );
    }
    drop(tx);

    let pb = if std::io::stderr().is_terminal() {
        let pb = ProgressBar::new_spinner();
        pb.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
        pb.enable_steady_tick(Duration::from_millis(100));
        pb
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let (mut messages, mut bytes, mut lost) = (0u64, 0u64, 0u64);
    let mut loss_channel: Option<u16> = None;
    let mut loss_seq = 0u32;
    let (mut unflushed, mut flushed_at) = (0usize, Instant::now());
    let mut ended: Option<&str> = None;
    let mut closed = 0;
    let mut failure: Option<anyhow::Error> = None;
    let mut last_shown = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Event::Message {
                topic,
                seq,
                time,
                data,
            }) => {
                let t = &mut topics[topic];
                let header = mcap::records::MessageHeader {
                    channel_id: t.channel,
                    sequence: seq as u32, // MCAP's sequence is 32 bits: it wraps
                    log_time: time,
                    publish_time: time,
                };
                mcap.write_to_known_channel(&header, &data)
                    .with_context(|| format!("writing {}", args.output.display()))?;
                t.messages += 1;
                t.bytes += data.len() as u64;
                messages += 1;
                bytes += data.len() as u64;
                unflushed += data.len() + 32;
                if args.count.is_some_and(|c| messages >= c) && ended.is_none() {
                    ended = Some("count");
                    shared.done.store(true, Ordering::Relaxed);
                }
            }
            Ok(Event::Lost {
                topic,
                lost: n,
                before_seq,
                time,
            }) => {
                let t = &mut topics[topic];
                if t.lost == 0 {
                    pb.suspend(|| {
                        errln!(
                            "shmkit: record: lost {n} message(s) of {} (the recorder fell a ring \
                             behind); written as a loss record",
                            t.name
                        )
                    });
                }
                t.lost += n;
                lost += n;
                let channel = match loss_channel {
                    Some(c) => c,
                    None => {
                        let s =
                            mcap.add_schema(LOSS_TOPIC, "jsonschema", LOSS_SCHEMA.as_bytes())?;
                        let c = mcap.add_channel(s, LOSS_TOPIC, "json", &BTreeMap::new())?;
                        *loss_channel.insert(c)
                    }
                };
                let json =
                    serde_json::json!({"topic": t.name, "lost": n, "before_seq": before_seq});
                let header = mcap::records::MessageHeader {
                    channel_id: channel,
                    sequence: loss_seq,
                    log_time: time,
                    publish_time: time,
                };
                loss_seq = loss_seq.wrapping_add(1);
                mcap.write_to_known_channel(&header, &serde_json::to_vec(&json)?)?;
            }
            Ok(Event::Ended { topic, closed: c }) => match c {
                Ok(true) => {
                    closed += 1;
                    if closed == topics.len() && ended.is_none() {
                        ended = Some("closed");
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    let e = e.context(format!("recording {}", topics[topic].name));
                    failure.get_or_insert(e);
                    shared.done.store(true, Ordering::Relaxed);
                }
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break, // every reader has ended
        }
        if ended.is_none() {
            if stop.requested() {
                ended = Some("interrupted");
            } else if args.duration.is_some_and(|d| started.elapsed() >= d) {
                ended = Some("duration");
            }
            if ended.is_some() {
                shared.done.store(true, Ordering::Relaxed);
            }
        }
        if unflushed >= chunk_size || (unflushed > 0 && flushed_at.elapsed() >= args.flush_every) {
            mcap.flush()
                .with_context(|| format!("writing {}", args.output.display()))?;
            (unflushed, flushed_at) = (0, Instant::now());
        }
        if last_shown.elapsed() >= Duration::from_millis(100) {
            pb.set_message(format!(
                "{messages} messages, {}, {lost} lost, {} topic(s)",
                human(bytes),
                topics.len()
            ));
            last_shown = Instant::now();
        }
    }
    for (t, topic) in threads.into_iter().zip(&topics) {
        if t.join().is_err() {
            failure.get_or_insert(anyhow::anyhow!(
                "the reader of {} failed (a bug: please report it)",
                topic.name
            ));
        }
    }
    pb.finish_and_clear();
    let ended = ended.unwrap_or("closed");
    let mut meta = BTreeMap::new();
    meta.insert("messages".into(), messages.to_string());
    meta.insert("bytes".into(), bytes.to_string());
    meta.insert("lost".into(), lost.to_string());
    meta.insert("ended".into(), ended.into());
    for t in &topics {
        meta.insert(format!("lost.{}", t.name), t.lost.to_string());
    }
    mcap.write_metadata(&mcap::records::Metadata {
        name: "shmkit".into(),
        metadata: meta,
    })?;
    mcap.finish()
        .with_context(|| format!("writing {}", args.output.display()))?;
    let mut w = mcap.into_inner();
    std::io::Write::flush(&mut w).with_context(|| format!("writing {}", args.output.display()))?;
    drop(w);

    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let s = Summary {
            file: args.output.display().to_string(),
            ended,
            seconds,
            messages,
            bytes,
            lost,
            topics: topics
                .iter()
                .map(|t| TopicJson {
                    name: &t.name,
                    kind: t.kind.id(),
                    messages: t.messages,
                    bytes: t.bytes,
                    lost: t.lost,
                })
                .collect(),
        };
        outln!("{}", serde_json::to_string(&s)?)?;
    } else {
        let losses: BTreeSet<String> = topics
            .iter()
            .filter(|t| t.lost > 0)
            .map(|t| format!("{} {}", t.name, t.lost))
            .collect();
        errln!(
            "recorded {messages} message(s) ({}) of {} topic(s) to {} in {:.1} s ({ended}){}",
            human(bytes),
            topics.len(),
            args.output.display(),
            seconds,
            if losses.is_empty() {
                ", nothing lost".to_owned()
            } else {
                format!(
                    "; LOST {lost} message(s): {}",
                    losses.into_iter().collect::<Vec<_>>().join(", ")
                )
            }
        );
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_a_shell_does() {
        assert!(glob_match("cam*", "cam"));
        assert!(glob_match("cam*", "camera-1"));
        assert!(!glob_match("cam*", "xcam"));
        assert!(glob_match("*-1", "camera-1"));
        assert!(glob_match("c?m*1", "camera-1"));
        assert!(glob_match("*a*a*", "banana"));
        assert!(!glob_match("*a*a*b", "banana"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("?", ""));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn a_shape_round_trips_through_metadata() {
        let b = Shape {
            kind: TopicKind::Broadcast,
            capacity: None,
            slots: Some(8),
            slot_size: Some(100),
            max_subscribers: Some(3),
            policy: Some(Policy::Overwrite),
            mode: Some(0o640),
        };
        let m = b.to_metadata();
        assert_eq!(m["shmkit.policy"], "overwrite");
        assert_eq!(m["shmkit.mode"], "640");
        assert_eq!(Shape::from_metadata(&m).unwrap(), Some(b));
        assert_eq!(Shape::from_metadata(&BTreeMap::new()).unwrap(), None);
        let mut bad = m.clone();
        bad.insert("shmkit.slots".into(), "many".into());
        let e = Shape::from_metadata(&bad).unwrap_err();
        assert!(format!("{e:#}").contains("shmkit.slots"), "{e:#}");
    }

    #[test]
    fn a_layout_round_trips_through_its_schema() {
        let l = MessageLayout::new(24, 8, Some("pose v2"));
        let (name, json) = SchemaJson::new(TopicKind::Broadcast, Some(&l));
        assert_eq!(name, "pose v2");
        let back: SchemaJson = serde_json::from_slice(&serde_json::to_vec(&json).unwrap()).unwrap();
        assert_eq!(back.layout().unwrap(), Some(l));
        let (name, json) = SchemaJson::new(TopicKind::Channel, None);
        assert_eq!(name, BYTES_SCHEMA);
        assert_eq!(json.layout().unwrap(), None);
    }
}
