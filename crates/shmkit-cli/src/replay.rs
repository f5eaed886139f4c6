//! `replay`: an MCAP file into channels and broadcasts, at the recorded pace.
//!
//! The file is read twice, streaming (memory is the largest chunk, not the file): once to
//! find its channels, how many messages each has and the largest, and where a file cut short
//! (a killed recorder) stops being readable; then again to send. So every object is made
//! before the first message, with slots that fit, and a bad file fails before anything is
//! made. The mapping is `record`'s (module docs there).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use shmkit::channel::broadcast::Policy;
use shmkit::channel::WaitStrategy;

use crate::endpoint::{Create, TopicKind, Writer};
use crate::out::{errln, outln};
use crate::record::{glob_match, SchemaJson, Shape, LOSS_TOPIC, MESSAGE_ENCODING, SCHEMA_ENCODING};
use crate::stop::Stop;

/// How often a waiting replay looks whether Ctrl-C, SIGTERM or SIGHUP has arrived.
const TICK: Duration = Duration::from_millis(100);

/// `shmkit replay`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The MCAP file.
    pub file: PathBuf,
    /// Replay the recorded object OLD as NEW (repeatable).
    #[arg(long, value_name = "OLD=NEW", value_parser = parse_remap)]
    pub remap: Vec<(String, String)>,
    /// Replay only these topics (names or globs, by their recorded names; repeatable or
    /// comma-separated).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub topics: Vec<String>,
    /// Play this many times faster than recorded (0.5: half as fast).
    #[arg(long, default_value = "1", value_parser = parse_speed, conflicts_with = "fast")]
    pub speed: f64,
    /// As fast as the readers take the messages, not at the recorded pace.
    #[arg(long)]
    pub fast: bool,
    /// Play the file again and again, until Ctrl-C, SIGTERM or SIGHUP.
    #[arg(long = "loop")]
    pub repeat: bool,
    /// Before the first message, wait until each broadcast has this many subscribers, and
    /// (N of 1 or more) each channel its consumer.
    #[arg(long, value_name = "N", default_value = "0")]
    pub wait_for_subscribers: usize,
    /// Print the final summary as JSON on standard output (fields in the README).
    #[arg(long)]
    pub json: bool,
}

fn parse_remap(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.into(), b.into())),
        _ => Err(format!("expected OLD=NEW, got {s:?}")),
    }
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => Ok(f),
        _ => Err(format!(
            "expected a speed factor above 0, e.g. 2 or 0.5; got {s:?}"
        )),
    }
}

/// One MCAP channel as the first pass found it.
struct Found {
    channel: Arc<mcap::Channel<'static>>,
    messages: u64,
    max_len: usize,
}

/// What the first pass found.
struct Scan {
    channels: BTreeMap<u16, Found>,
    /// Messages that can be read (all of them, unless the file is cut short).
    readable: u64,
    /// Why the file stops being readable before its end, if it does.
    cut: Option<String>,
}

fn open(path: &Path) -> Result<mcap::io::MessageReader<BufReader<File>>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(mcap::io::MessageReader::new(BufReader::new(f)))
}

fn scan(path: &Path) -> Result<Scan> {
    let mut s = Scan {
        channels: BTreeMap::new(),
        readable: 0,
        cut: None,
    };
    for m in open(path)? {
        let m = match m {
            Ok(m) => m,
            Err(e) if s.readable > 0 => {
                s.cut = Some(e.to_string());
                break;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading {} (is it an MCAP file?)", path.display()))
            }
        };
        s.readable += 1;
        let f = s.channels.entry(m.channel.id).or_insert_with(|| Found {
            channel: Arc::clone(&m.channel),
            messages: 0,
            max_len: 0,
        });
        f.messages += 1;
        f.max_len = f.max_len.max(m.data.len());
    }
    Ok(s)
}

/// How one recorded channel is played.
struct Target {
    recorded: String,
    name: String,
    how: Create,
    writer: Option<Writer>,
    sent: u64,
    /// Messages sent while nobody was there to get them (`Writer::unheard`).
    unheard: u64,
}

/// The object to make for the MCAP channel `c`, whose largest message is `max_len`.
fn plan(c: &mcap::Channel<'_>, max_len: usize) -> Result<Create> {
    let shape = if c.message_encoding == MESSAGE_ENCODING {
        Shape::from_metadata(&c.metadata)?
    } else {
        None
    };
    let layout = match &c.schema {
        Some(s) if s.encoding == SCHEMA_ENCODING && shape.is_some() => {
            let json: SchemaJson = serde_json::from_slice(&s.data)
                .with_context(|| format!("reading the schema {:?}", s.name))?;
            json.layout()?
        }
        _ => None,
    };
    // A key missing from the metadata takes the library's default.
    Ok(match shape {
        Some(s) => Create {
            kind: s.kind,
            capacity: s.capacity.unwrap_or(8 << 20),
            slots: s.slots.unwrap_or(64),
            slot_size: s.slot_size.unwrap_or(4096),
            max_subscribers: s.max_subscribers.unwrap_or(16),
            policy: s.policy.unwrap_or(Policy::Block),
            mode: s.mode.unwrap_or(0o600),
            layout,
        },
        // Another program's channel: a byte broadcast its largest message fits.
        None => Create {
            kind: TopicKind::Broadcast,
            capacity: 0,
            slots: 64,
            slot_size: max_len.max(1),
            max_subscribers: 16,
            policy: Policy::Block,
            mode: 0o600,
            layout: None,
        },
    })
}

/// The summary of a replay, as `--json` prints it.
#[derive(Serialize)]
struct Summary<'a> {
    file: String,
    /// `end` (the file was played to its end), or `interrupted`.
    ended: &'a str,
    seconds: f64,
    /// Times the file was played (more than once with --loop).
    rounds: u64,
    messages: u64,
    /// Loss records in the file (skipped).
    losses_skipped: u64,
    topics: Vec<TopicJson<'a>>,
}

#[derive(Serialize)]
struct TopicJson<'a> {
    recorded: &'a str,
    name: &'a str,
    kind: &'a str,
    messages: u64,
}

/// Sends `data` with `w`, waiting for room while no stop is requested; `false` if one was.
fn send(w: &mut Writer, data: &[u8], stop: &Stop) -> Result<bool> {
    while !w.send_within(data, TICK)? {
        if stop.requested() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `shmkit replay`.
pub fn replay(args: ReplayArgs) -> Result<ExitCode> {
    let scan = scan(&args.file)?;
    if let Some(cut) = &scan.cut {
        errln!(
            "shmkit: replay: {} ends early ({cut}): a recording that was killed? Replaying the \
             {} message(s) before that",
            args.file.display(),
            scan.readable
        );
    }
    let mut losses = 0;
    let mut targets: BTreeMap<u16, Target> = BTreeMap::new();
    for (id, f) in &scan.channels {
        let c = &f.channel;
        if c.topic == LOSS_TOPIC {
            losses += f.messages;
            continue;
        }
        if !args.topics.is_empty() && !args.topics.iter().any(|p| glob_match(p, &c.topic)) {
            continue;
        }
        let name = args
            .remap
            .iter()
            .find(|(old, _)| *old == c.topic)
            .map_or(c.topic.clone(), |(_, new)| new.clone());
        let how = plan(c, f.max_len).with_context(|| format!("topic {:?}", c.topic))?;
        targets.insert(
            *id,
            Target {
                recorded: c.topic.clone(),
                name,
                how,
                writer: None,
                sent: 0,
                unheard: 0,
            },
        );
    }
    if targets.is_empty() {
        bail!(
            "{} has no messages to replay{}",
            args.file.display(),
            if args.topics.is_empty() {
                ""
            } else {
                " on the topics --topics names"
            }
        );
    }
    let stop = Stop::install()?;
    for t in targets.values_mut() {
        let w = Writer::create(&t.name, &t.how, WaitStrategy::Adaptive).with_context(|| {
            if t.name == t.recorded {
                format!(
                    "replaying {:?} (--remap {0}=NEW plays it under another name)",
                    t.name
                )
            } else {
                format!("replaying {:?} as {:?}", t.recorded, t.name)
            }
        })?;
        t.writer = Some(w);
    }
    if args.wait_for_subscribers > 0 {
        for w in targets.values().filter_map(|t| t.writer.as_ref()) {
            let n = match w.kind() {
                TopicKind::Channel => 1, // one reader: its consumer
                TopicKind::Broadcast => args.wait_for_subscribers,
            };
            if !w.wait_for_readers(n, &stop)? {
                // As `publish` does: a stop before anything was sent is a clean end.
                return Ok(ExitCode::SUCCESS);
            }
        }
    }

    let total: u64 = targets
        .keys()
        .map(|id| scan.channels[id].messages)
        .sum::<u64>();
    let pb = if std::io::stderr().is_terminal() {
        let pb = if args.repeat {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::new(total)
        };
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} messages ({per_sec}) {msg}")
                .expect("template"),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let (mut rounds, mut messages) = (0u64, 0u64);
    let mut interrupted = false;
    'rounds: loop {
        rounds += 1;
        pb.set_message(if args.repeat {
            format!("round {rounds}")
        } else {
            String::new()
        });
        let (mut first, round_start) = (None::<u64>, Instant::now());
        for (read, m) in open(&args.file)?.enumerate() {
            if read as u64 >= scan.readable {
                break;
            }
            let m = m.with_context(|| format!("reading {}", args.file.display()))?;
            let Some(t) = targets.get_mut(&m.channel.id) else {
                continue;
            };
            if !args.fast {
                let t0 = *first.get_or_insert(m.log_time);
                let offset = Duration::from_nanos(m.log_time.saturating_sub(t0));
                let due = round_start + offset.div_f64(args.speed);
                let now = Instant::now();
                if due > now && stop.sleep(due - now) {
                    interrupted = true;
                    break 'rounds;
                }
            }
            let w = t.writer.as_mut().expect("made above");
            t.unheard += u64::from(w.unheard());
            if !send(w, &m.data, &stop)? {
                interrupted = true;
                break 'rounds;
            }
            t.sent += 1;
            messages += 1;
            pb.inc(1);
            if stop.requested() {
                interrupted = true;
                break 'rounds;
            }
        }
        if !args.repeat {
            break;
        }
    }
    pb.finish_and_clear();
    for t in targets.values() {
        if let Some(w) = &t.writer {
            crate::topic::say_lost(w, t.unheard);
        }
    }
    let ended = if interrupted { "interrupted" } else { "end" };
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let s = Summary {
            file: args.file.display().to_string(),
            ended,
            seconds,
            rounds,
            messages,
            losses_skipped: losses,
            topics: targets
                .values()
                .map(|t| TopicJson {
                    recorded: &t.recorded,
                    name: &t.name,
                    kind: t.how.kind.id(),
                    messages: t.sent,
                })
                .collect(),
        };
        outln!("{}", serde_json::to_string(&s)?)?;
    } else {
        errln!(
            "replayed {messages} message(s) to {} object(s) in {seconds:.1} s ({ended}{}){}",
            targets.len(),
            if args.repeat {
                format!(", {rounds} round(s)")
            } else {
                String::new()
            },
            if losses > 0 {
                format!("; the recording had lost messages {losses} time(s) (skipped)")
            } else {
                String::new()
            }
        );
    }
    // Dropping the writers removes the objects; subscribers read what is left, then see
    // the end.
    drop(targets);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaps_and_speeds_are_checked() {
        assert_eq!(parse_remap("a=b").unwrap(), ("a".into(), "b".into()));
        assert!(parse_remap("a").is_err());
        assert!(parse_remap("=b").is_err());
        assert_eq!(parse_speed("2").unwrap(), 2.0);
        assert!(parse_speed("0").is_err());
        assert!(parse_speed("-1").is_err());
        assert!(parse_speed("inf").is_err());
    }
}
