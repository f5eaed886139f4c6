//! `top`: a live table of the machine's shmkit objects, refreshed like `top(1)`, with the
//! rates computed from the counters each object keeps in its own memory
//! (`shmkit::inspect::Details`): nothing is joined, nothing is taken, nobody is disturbed.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use serde::Serialize;
use shmkit::inspect::{Details, Info, Kind};

use crate::out::outln;
use crate::stop::Stop;
use crate::table;
use crate::units::human;

/// The counts a rate is computed from: messages and bytes since the object was made
/// (`None` where the object does not count it).
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    messages: Option<u64>,
    bytes: Option<u64>,
}

/// One object's row: its info and what changed since the previous refresh.
#[derive(Debug, Serialize)]
struct Row<'a> {
    /// Messages per second since the previous refresh (`null` on the first).
    messages_per_s: Option<f64>,
    /// Bytes per second since the previous refresh (`null` on the first, or not counted).
    bytes_per_s: Option<f64>,
    /// The object, with the fields `info --json` prints.
    #[serde(flatten)]
    info: &'a Info,
}

/// What `top --json` prints, one line per refresh.
#[derive(Debug, Serialize)]
struct Snapshot<'a> {
    schema: u32,
    /// Seconds since the Unix epoch.
    time: f64,
    objects: Vec<Row<'a>>,
}

/// The counters of `info` that a rate is computed from: a channel's messages sent and bytes
/// through its ring, a broadcast's messages and bytes published, a service's responses.
fn counts(info: &Info) -> Counts {
    match &info.details {
        Some(Details::Channel(c)) => Counts {
            messages: Some(c.sent),
            bytes: Some(c.bytes_sent),
        },
        Some(Details::Broadcast(b)) => Counts {
            messages: Some(b.published),
            bytes: Some(b.published_bytes),
        },
        Some(Details::Service(s)) => Counts {
            messages: Some(s.served),
            bytes: None,
        },
        _ => Counts::default(),
    }
}

/// Subscribers (broadcast) or clients (service), as `now/max`.
fn peers(info: &Info) -> String {
    match &info.details {
        Some(Details::Broadcast(b)) => format!("{}/{}", b.subscribers.len(), b.max_subscribers),
        Some(Details::Service(s)) => format!("{}/{}", s.clients, s.max_clients),
        _ => "-".into(),
    }
}

/// How far behind the readers are: a broadcast's slowest subscriber, a channel's messages
/// sent and not yet received, a service's queued requests.
fn lag(info: &Info) -> String {
    match &info.details {
        Some(Details::Broadcast(b)) => b
            .subscribers
            .iter()
            .map(|s| s.lag)
            .max()
            .map_or("-".into(), |l| l.to_string()),
        Some(Details::Channel(c)) => c.sent.saturating_sub(c.received).to_string(),
        Some(Details::Service(s)) => s.queued.to_string(),
        _ => "-".into(),
    }
}

fn holders(info: &Info) -> String {
    match info.holders.len() {
        0 => "-".into(),
        _ => info
            .holders
            .iter()
            .map(|h| format!("{}:{}", h.role, h.pid))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn rate(now: Option<u64>, before: Option<u64>, secs: f64) -> Option<f64> {
    match (now, before) {
        (Some(n), Some(b)) if secs > 0.0 => Some(n.saturating_sub(b) as f64 / secs),
        _ => None,
    }
}

/// Runs `top` until Ctrl-C/SIGTERM/SIGHUP, or for `count` refreshes.
pub fn top(interval: Duration, count: Option<u64>, json: bool, all: bool) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let terminal = std::io::stdout().is_terminal() && !json;
    let mut before: HashMap<String, (Instant, Counts)> = HashMap::new();
    let mut shown = 0u64;
    let mut primed = false;
    loop {
        let infos: Vec<Info> = crate::commands::survey(false)?
            .into_iter()
            .filter(|i| all || i.kind != Kind::Raw)
            .collect();
        let at = Instant::now();
        let mut next = HashMap::with_capacity(infos.len());
        let rows: Vec<Row<'_>> = infos
            .iter()
            .map(|i| {
                let c = counts(i);
                let prev = before.get(&i.name);
                let secs = prev.map_or(0.0, |(t, _)| at.duration_since(*t).as_secs_f64());
                let (pm, pb) = prev.map_or((None, None), |(_, p)| (p.messages, p.bytes));
                next.insert(i.name.clone(), (at, c));
                Row {
                    messages_per_s: rate(c.messages, pm, secs),
                    bytes_per_s: rate(c.bytes, pb, secs),
                    info: i,
                }
            })
            .collect();
        let first = !primed;
        before = next;
        if first {
            // A rate needs two looks: the first table comes one interval after this one
            // (objects that appear later show `-` until their second look).
            primed = true;
            if stop.sleep(interval) {
                return Ok(ExitCode::SUCCESS);
            }
            continue;
        }
        if json {
            let time = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let snap = Snapshot {
                schema: crate::report::SCHEMA,
                time,
                objects: rows,
            };
            outln!("{}", serde_json::to_string(&snap)?)?;
        } else {
            print_table(&rows, &infos, terminal, interval)?;
        }
        shown += 1;
        if count.is_some_and(|c| shown >= c) || stop.sleep(interval) {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

fn print_table(rows: &[Row<'_>], infos: &[Info], terminal: bool, every: Duration) -> Result<()> {
    let header = ["NAME", "KIND", "MSG/S", "BYTES/S", "SUBS", "LAG", "HOLDERS"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .zip(infos)
        .map(|(r, i)| {
            vec![
                i.name.clone(),
                i.kind.id(),
                r.messages_per_s.map_or("-".into(), |m| format!("{m:.0}")),
                r.bytes_per_s
                    .map_or("-".into(), |b| format!("{}/s", human(b as u64))),
                peers(i),
                lag(i),
                holders(i),
            ]
        })
        .collect();
    if terminal {
        // Home and clear, as `top` and `watch` do.
        crate::out::print(format_args!("\x1b[H\x1b[2J"))?;
        outln!(
            "shmkit top: {} objects, every {} (Ctrl-C to quit)\n",
            rows.len(),
            humantime::format_duration(every)
        )?;
    }
    for line in table::render(&header, &cells, &[2, 3, 5]) {
        outln!("{line}")?;
    }
    if !terminal {
        outln!("")?;
    }
    Ok(())
}
