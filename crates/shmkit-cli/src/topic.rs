//! `subscribe` (alias `echo`) and `publish`: a channel or a broadcast from the shell, as
//! [`Reader`] and [`Writer`] see it.
//!
//! `subscribe` prints each message raw, as a line, as a hex dump or as a JSON object;
//! `publish` sends `--text`, a file, or standard input (a message per line, or u32-LE
//! length-prefixed frames), creating the object with `create`'s options if it is absent.

use std::io::{BufRead, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use shmkit::channel::broadcast::Policy;
use shmkit::channel::MessageLayout;

use crate::cli::{OpenWait, WaitStrategyArg};
use crate::endpoint::{Create, Got, Reader, TopicKind, Writer};
use crate::hexdump;
use crate::out::errln;
use crate::stop::Stop;
use crate::units::{parse_layout, parse_mode, parse_size};

/// How often a command that waits looks whether Ctrl-C, SIGTERM or SIGHUP has arrived.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// `shmkit subscribe`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// The broadcast or channel.
    pub name: String,
    #[command(flatten)]
    pub wait: OpenWait,
    /// How each message is printed: `raw` (its bytes, nothing between messages), `lines`
    /// (its bytes, then a newline) or `hex` (a line `seq N, LEN bytes`, then an xxd-style
    /// dump).
    #[arg(long, value_enum, default_value = "raw")]
    pub format: Format,
    /// Print one JSON object per line: `{"seq", "time", "len", "text" or "hex"}` (`text` when
    /// the message is UTF-8, else `hex`), plus `"layout": {"size", "align", "tag"}` for a
    /// typed object; a loss is `{"lost": N, "time"}`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// How this side waits for messages.
    #[arg(long, value_enum, default_value = "adaptive")]
    pub wait_strategy: WaitStrategyArg,
}

/// How `subscribe` prints a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The message's bytes, nothing between messages.
    Raw,
    /// The message's bytes, then a newline.
    Lines,
    /// A header line (sequence number, length), then an xxd-style hex dump.
    Hex,
}

/// The seconds since the Unix epoch, as JSON prints times.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Adds a message's bytes to a JSON object: `"text"` when they are UTF-8, else `"hex"`.
pub(crate) fn put_data(obj: &mut serde_json::Map<String, serde_json::Value>, data: &[u8]) {
    match std::str::from_utf8(data) {
        Ok(t) => obj.insert("text".into(), t.into()),
        Err(_) => obj.insert("hex".into(), hex(data).into()),
    };
}

/// Lower-case hex digits, two per byte.
fn hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A layout as JSON: `{"size", "align", "tag"}`.
fn layout_json(l: &MessageLayout) -> serde_json::Value {
    serde_json::json!({"size": l.size(), "align": l.align(), "tag": l.tag()})
}

/// A layout in words: `8 bytes, align 4, tag "pair v1"`.
fn layout_words(l: &MessageLayout) -> String {
    match l.tag() {
        Some(t) => format!("{} bytes, align {}, tag {t:?}", l.size(), l.align()),
        None => format!("{} bytes, align {}", l.size(), l.align()),
    }
}

/// `shmkit subscribe`.
///
/// Opens before it catches Ctrl-C: a `--wait` for the name ends at once on Ctrl-C (nothing
/// is held yet). Ends with status 0 after `--count` messages, when the writer has gone and
/// everything it sent is printed, on Ctrl-C / SIGTERM / SIGHUP, or when the reader of its
/// output goes away.
pub fn subscribe(a: SubscribeArgs) -> Result<ExitCode> {
    let name = a.name.as_str();
    let mut r = Reader::open(name, a.wait.open_timeout(), a.wait_strategy.into())?;
    let layout = r.layout()?;
    let stop = Stop::install()?;
    if std::io::stderr().is_terminal() {
        let what = match r.kind() {
            TopicKind::Broadcast => "subscribed to",
            TopicKind::Channel => "reading (as its consumer)",
        };
        errln!("{what} {} {name:?}; Ctrl-C to stop", r.kind().id());
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut buf = Vec::new();
    let mut got = 0u64;
    while a.count.is_none_or(|c| got < c) && !stop.requested() {
        let mut g = r.recv(&mut buf, Duration::ZERO)?;
        if g == Got::Timeout {
            // Nothing waiting: show what there is before sleeping.
            out.flush()?;
            g = r.recv(&mut buf, TICK)?;
        }
        match g {
            Got::Message { seq, len } => {
                let msg = &buf[..len];
                if a.json {
                    let mut o = serde_json::Map::new();
                    o.insert("seq".into(), seq.into());
                    o.insert("time".into(), unix_now().into());
                    o.insert("len".into(), len.into());
                    if let Some(l) = &layout {
                        o.insert("layout".into(), layout_json(l));
                    }
                    put_data(&mut o, msg);
                    serde_json::to_writer(&mut out, &o)?;
                    out.write_all(b"\n")?;
                } else {
                    match a.format {
                        Format::Raw => out.write_all(msg)?,
                        Format::Lines => {
                            out.write_all(msg)?;
                            out.write_all(b"\n")?;
                        }
                        Format::Hex => {
                            writeln!(out, "seq {seq}, {len} bytes")?;
                            out.write_all(hexdump::dump(msg, 0, &|_| false, "", "").as_bytes())?;
                        }
                    }
                }
                got += 1;
            }
            Got::Lost(n) => {
                if a.json {
                    let o = serde_json::json!({"lost": n, "time": unix_now()});
                    serde_json::to_writer(&mut out, &o)?;
                    out.write_all(b"\n")?;
                } else {
                    out.flush()?;
                    errln!(
                        "shmkit: lost {n} message(s) of {name:?}: overwritten before they were \
                         read"
                    );
                }
            }
            Got::Timeout => {}
            Got::Closed => break,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `create`'s options for the object `publish` makes when there is none.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// What to create if NAME does not exist.
    #[arg(long, value_enum, default_value = "broadcast")]
    pub kind: KindArg,
    /// Broadcast: message slots (how far a subscriber may lag).
    #[arg(long, default_value = "64")]
    pub slots: usize,
    /// Broadcast: the largest message (default 4KiB, or the --layout's size).
    #[arg(long, value_parser = parse_size)]
    pub slot_size: Option<u64>,
    /// Broadcast: how many subscribers may be attached at once.
    #[arg(long, default_value = "16")]
    pub max_subscribers: usize,
    /// Broadcast: what happens when a subscriber is a whole ring behind: the publisher
    /// waits (`block`) or overwrites, and the subscriber is told how many it lost.
    #[arg(long, value_enum, default_value = "block")]
    pub policy: PolicyArg,
    /// Channel: the ring's size (its largest message is half of it, less 8 bytes).
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub capacity: u64,
    /// Unix permission bits, in octal (e.g. 600, 660).
    #[arg(long, value_parser = parse_mode, default_value = "600")]
    pub mode: u32,
    /// Record a typed layout, SIZE:ALIGN[:TAG] (e.g. 16:8:"pose v1"), so typed readers of
    /// that type can open the object; every message must then be exactly SIZE bytes.
    #[arg(long, value_parser = parse_layout, value_name = "SIZE:ALIGN[:TAG]")]
    pub layout: Option<MessageLayout>,
}

/// `--kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Every subscriber sees every message.
    Broadcast,
    /// One reader, which takes the messages out.
    Channel,
}

/// `--policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// The publisher waits for the slowest subscriber.
    Block,
    /// The publisher overwrites; a slow subscriber loses messages, and is told how many.
    Overwrite,
}

impl CreateArgs {
    /// The endpoint's [`Create`].
    fn create(&self) -> Result<Create> {
        let layout_size = self.layout.as_ref().map(|l| l.size());
        let slot_size = self.slot_size.or(layout_size).unwrap_or(4096);
        Ok(Create {
            kind: match self.kind {
                KindArg::Broadcast => TopicKind::Broadcast,
                KindArg::Channel => TopicKind::Channel,
            },
            capacity: usize::try_from(self.capacity).context("--capacity is too large")?,
            slots: self.slots,
            slot_size: usize::try_from(slot_size).context("--slot-size is too large")?,
            max_subscribers: self.max_subscribers,
            policy: match self.policy {
                PolicyArg::Block => Policy::Block,
                PolicyArg::Overwrite => Policy::Overwrite,
            },
            mode: self.mode,
            layout: self.layout.clone(),
        })
    }
}

/// `shmkit publish`'s arguments.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The broadcast or channel (created if absent, unless --wait).
    pub name: String,
    /// Publish this text, as one message.
    #[arg(long, conflicts_with = "file")]
    pub text: Option<String>,
    /// Publish this file's contents, as one message.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Read standard input as frames, each a u32 length (little-endian) and that many bytes,
    /// instead of one message per line.
    #[arg(long, conflicts_with_all = ["text", "file"])]
    pub length_delimited: bool,
    /// Send this many messages per second (default: as fast as they are taken).
    #[arg(long, value_name = "HZ", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// With --text or --file: send the message this many times (default once). From standard
    /// input: stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Before the first message, wait until N subscribers are attached (a channel: its
    /// consumer, N = 1), so that none of the messages is missed.
    #[arg(long, value_name = "N")]
    pub wait_for_subscribers: Option<usize>,
    /// Do not create NAME: join the channel (as its producer) once it appears, waiting up to
    /// DURATION, or without a value until it does.
    #[arg(
        long,
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "forever",
        value_parser = crate::units::parse_wait
    )]
    pub wait: Option<Duration>,
    #[command(flatten)]
    pub create: CreateArgs,
    /// How this side waits for room.
    #[arg(long, value_enum, default_value = "adaptive")]
    pub wait_strategy: WaitStrategyArg,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| format!("{s:?} is not a rate in messages per second, like 50 or 0.5"))
}

/// Where `publish` takes its messages from.
enum Source {
    /// One message, `left` more times.
    Repeat { msg: Vec<u8>, left: u64 },
    /// Standard input, read on a thread of its own (so Ctrl-C is seen while it blocks).
    Stdin(mpsc::Receiver<Result<Vec<u8>>>),
}

impl Source {
    /// The next message, `None` at the end; waits for standard input in steps, so that a
    /// stop request is seen (then `None`).
    fn next(&mut self, stop: &Stop) -> Result<Option<Vec<u8>>> {
        match self {
            Source::Repeat { msg, left } => {
                if *left == 0 {
                    return Ok(None);
                }
                *left -= 1;
                Ok(Some(msg.clone()))
            }
            Source::Stdin(rx) => loop {
                match rx.recv_timeout(TICK) {
                    Ok(m) => return m.map(Some),
                    Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
                    Err(mpsc::RecvTimeoutError::Timeout) if stop.requested() => return Ok(None),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
            },
        }
    }

    /// Standard input as lines (without their `\n`) or length-prefixed frames.
    fn stdin(frames: bool) -> Source {
        let (tx, rx) = mpsc::sync_channel(64);
        std::thread::spawn(move || {
            let mut input = std::io::stdin().lock();
            loop {
                let m = if frames {
                    read_frame(&mut input)
                } else {
                    read_line(&mut input)
                };
                let end = !matches!(m, Ok(Some(_)));
                let sent = match m {
                    Ok(Some(m)) => tx.send(Ok(m)),
                    Ok(None) => Ok(()),
                    Err(e) => tx.send(Err(e)),
                };
                if end || sent.is_err() {
                    return;
                }
            }
        });
        Source::Stdin(rx)
    }
}

fn read_line(input: &mut impl BufRead) -> Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if input
        .read_until(b'\n', &mut line)
        .context("reading standard input")?
        == 0
    {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(Some(line))
}

fn read_frame(input: &mut impl Read) -> Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        match input.read(&mut len[n..]) {
            Ok(0) if n == 0 => return Ok(None),
            Ok(0) => bail!("standard input ended inside a frame's length"),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading standard input"),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    let mut msg = vec![0; len];
    input
        .read_exact(&mut msg)
        .with_context(|| format!("standard input ended inside a frame of {len} bytes"))?;
    Ok(Some(msg))
}

/// Opens `name` for writing: joins it if it exists (or, with --wait, once it appears),
/// creates it otherwise.
fn writer(a: &PublishArgs) -> Result<Writer> {
    let name = a.name.as_str();
    let strategy = a.wait_strategy.into();
    let wait = a.wait.unwrap_or(Duration::ZERO);
    if !wait.is_zero() || TopicKind::of(name)?.is_some() {
        return Writer::open(name, wait, strategy);
    }
    match Writer::create(name, &a.create.create()?, strategy) {
        // Created by someone else since we looked: join it.
        Err(e)
            if e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<shmkit::Error>(),
                    Some(shmkit::Error::AlreadyExists { .. })
                )
            }) =>
        {
            Writer::open(name, Duration::ZERO, strategy)
        }
        w => w,
    }
}

/// `shmkit publish`.
///
/// A publisher that created its object removes it when it ends (the library's rule: the
/// creator owns the name); readers still read what was sent, then see the end.
pub fn publish(a: PublishArgs) -> Result<ExitCode> {
    let name = a.name.as_str();
    let mut source = match (&a.text, &a.file) {
        (Some(t), _) => Source::Repeat {
            msg: t.clone().into_bytes(),
            left: a.count.unwrap_or(1),
        },
        (_, Some(f)) => Source::Repeat {
            msg: std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
            left: a.count.unwrap_or(1),
        },
        _ => Source::stdin(a.length_delimited),
    };
    let limit = match source {
        Source::Repeat { .. } => None,
        Source::Stdin(_) => a.count,
    };
    let mut w = writer(&a)?;
    let stop = Stop::install()?;
    // The layout each message must have: the one this side recorded, or the one of the
    // channel it joined.
    let layout = match &w {
        Writer::Channel(tx) if !w.is_creator() => {
            let theirs = tx
                .message_layout()
                .with_context(|| format!("reading the message layout of {name:?}"))?;
            match (&a.create.layout, &theirs) {
                (Some(mine), Some(t)) if mine != t => bail!(
                    "channel {name:?} carries {}; --layout says {}",
                    layout_words(t),
                    layout_words(mine)
                ),
                (Some(mine), None) => bail!(
                    "channel {name:?} exists and carries bytes; --layout says {} (it is for \
                     the object publish creates)",
                    layout_words(mine)
                ),
                _ => theirs,
            }
        }
        _ => a.create.layout.clone(),
    };
    if let Some(n) = a.wait_for_subscribers {
        if !w.wait_for_readers(n, &stop)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let start = Instant::now();
    let (mut sent, mut unheard) = (0u64, 0u64);
    while limit.is_none_or(|l| sent < l) && !stop.requested() {
        let Some(msg) = source.next(&stop)? else {
            break;
        };
        if let Some(l) = &layout {
            if msg.len() as u64 != l.size() {
                bail!(
                    "message {} is {} bytes; {name:?} carries {}",
                    sent + 1,
                    msg.len(),
                    layout_words(l)
                );
            }
        }
        if let Some(hz) = a.rate {
            // On a fixed schedule from the start, so that late sends do not slow the rate.
            let due = start + Duration::from_secs_f64(sent as f64 / hz);
            if stop.sleep(due.saturating_duration_since(Instant::now())) {
                break;
            }
        }
        let nobody = w.unheard();
        while !w.send_within(&msg, TICK)? {
            if stop.requested() {
                say_lost(&w, unheard);
                return Ok(ExitCode::SUCCESS);
            }
        }
        sent += 1;
        unheard += u64::from(nobody);
    }
    say_lost(&w, unheard);
    Ok(ExitCode::SUCCESS)
}

/// Says on standard error what reached nobody ([`Writer::lost_at_end`]).
pub fn say_lost(w: &Writer, unheard: u64) {
    if let Some(lost) = w.lost_at_end(unheard) {
        errln!("shmkit: {lost}");
    }
}
