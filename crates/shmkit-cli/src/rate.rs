//! `hz` and `bw`: how fast a broadcast runs, measured by a subscriber of its own (like
//! `ros2 topic hz` / `bw`). One loop serves both; they differ in what the text line shows
//! (the JSON is the same).
//!
//! The subscriber is one more reader, so it does not take messages from anyone; on a
//! broadcast of policy `overwrite` a gap it suffers is counted (`lost`), not fatal. (On a
//! `block` broadcast a stopped `hz` would hold the publisher back like any subscriber; it
//! reads all the time, so it does not.)
//!
//! A channel has one reader, which takes the messages out, so there `hz` reads the
//! channel's own counters instead (messages and payload bytes sent, `shmkit info`'s
//! `details`), joining nothing: rate, bandwidth and mean size per interval, but no
//! inter-arrival times, which only a reader sees.

use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use shmkit::inspect::Details;

use crate::cli::OpenWait;
use crate::endpoint::{Got, Reader, TopicKind};
use crate::out::outln;
use crate::stop::Stop;
use crate::topic::{unix_now, TICK};
use crate::units::{human, parse_duration};

/// `shmkit hz` / `shmkit bw`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RateArgs {
    /// The broadcast (or channel).
    pub name: String,
    #[command(flatten)]
    pub wait: OpenWait,
    /// Time between reports.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// How many of the latest messages the statistics cover.
    #[arg(long, default_value = "1000", value_parser = clap::value_parser!(u64).range(2..))]
    pub window: u64,
    /// Stop after this many reports.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this long (with a last report).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Print one JSON object per report (the same for hz and bw; fields in the README).
    #[arg(long)]
    pub json: bool,
}

/// Which command is printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Rate and inter-arrival times.
    Hz,
    /// Bytes per second and message sizes.
    Bw,
}

/// One report, as `--json` prints it. Times are seconds; fields about the window are
/// `null` while it holds too few messages (two for times and rates, one for sizes).
#[derive(Debug, Serialize)]
struct Report {
    time: f64,
    /// Messages received since the start.
    messages: u64,
    /// Messages received since the last report.
    new: u64,
    /// Messages lost (overwritten before they were read) since the start.
    lost: u64,
    /// Messages in the window.
    window: usize,
    /// Messages per second over the window.
    rate: Option<f64>,
    /// Inter-arrival time: shortest, longest, mean, standard deviation.
    min: Option<f64>,
    max: Option<f64>,
    mean: Option<f64>,
    std_dev: Option<f64>,
    /// Bytes per second over the window.
    bytes_per_s: Option<f64>,
    /// Message sizes over the window.
    size_min: Option<usize>,
    size_mean: Option<f64>,
    size_max: Option<usize>,
}

/// The latest arrivals: when, and how large.
struct Window {
    cap: usize,
    arrivals: VecDeque<(Instant, usize)>,
}

impl Window {
    fn push(&mut self, at: Instant, len: usize) {
        if self.arrivals.len() == self.cap {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back((at, len));
    }

    fn report(&self, messages: u64, new: u64, lost: u64) -> Report {
        let n = self.arrivals.len();
        let sizes = self.arrivals.iter().map(|a| a.1);
        let (size_min, size_max) = (sizes.clone().min(), sizes.clone().max());
        let size_mean = (n > 0).then(|| sizes.sum::<usize>() as f64 / n as f64);
        let gaps: Vec<f64> = self
            .arrivals
            .iter()
            .zip(self.arrivals.iter().skip(1))
            .map(|(a, b)| (b.0 - a.0).as_secs_f64())
            .collect();
        let span: f64 = gaps.iter().sum();
        let (mut rate, mut min, mut max, mut mean, mut std_dev) = (None, None, None, None, None);
        if !gaps.is_empty() && span > 0.0 {
            let m = span / gaps.len() as f64;
            let var = gaps.iter().map(|g| (g - m) * (g - m)).sum::<f64>() / gaps.len() as f64;
            rate = Some(gaps.len() as f64 / span);
            min = gaps.iter().copied().reduce(f64::min);
            max = gaps.iter().copied().reduce(f64::max);
            mean = Some(m);
            std_dev = Some(var.sqrt());
        }
        Report {
            time: unix_now(),
            messages,
            new,
            lost,
            window: n,
            rate,
            min,
            max,
            mean,
            std_dev,
            bytes_per_s: rate.zip(size_mean).map(|(r, s)| r * s),
            size_min,
            size_mean,
            size_max,
        }
    }
}

/// The text line of a report.
fn text(r: &Report, show: Show) -> String {
    if r.new == 0 {
        return "no new messages".into();
    }
    let lost = if r.lost > 0 {
        format!(" ({} lost)", r.lost)
    } else {
        String::new()
    };
    match show {
        Show::Hz => match (r.rate, r.min, r.max, r.std_dev) {
            (Some(rate), Some(min), Some(max), Some(sd)) => format!(
                "average rate: {rate:.3} msgs/s\n\tmin: {min:.6}s max: {max:.6}s std dev: \
                 {sd:.6}s window: {}{lost}",
                r.window
            ),
            _ => format!("{} message(s), too few for a rate{lost}", r.window),
        },
        Show::Bw => match (r.bytes_per_s, r.size_min, r.size_mean, r.size_max) {
            (Some(bw), Some(lo), Some(mean), Some(hi)) => format!(
                "{}/s from {} messages\n\tmessage size mean: {} min: {} max: {}{lost}",
                human(bw as u64),
                r.window,
                human(mean as u64),
                human(lo as u64),
                human(hi as u64)
            ),
            _ => format!("{} message(s), too few for a rate{lost}", r.window),
        },
    }
}

/// `shmkit hz` and `shmkit bw`.
pub fn run(a: RateArgs, show: Show) -> Result<ExitCode> {
    let name = a.name.as_str();
    if TopicKind::wait_for(name, a.wait.open_timeout())? == TopicKind::Channel {
        return from_counters(&a, show);
    }
    let mut r = Reader::open_kind(
        name,
        TopicKind::Broadcast,
        shmkit::channel::WaitStrategy::Adaptive,
    )?;
    let stop = Stop::install()?;
    let start = Instant::now();
    let end = a.duration.and_then(|d| start.checked_add(d));
    let mut window = Window {
        cap: usize::try_from(a.window).unwrap_or(usize::MAX),
        arrivals: VecDeque::new(),
    };
    let (mut messages, mut new, mut lost, mut reports) = (0u64, 0u64, 0u64, 0u64);
    let mut next = start + a.interval;
    let mut buf = Vec::new();
    let mut closed = false;
    loop {
        let now = Instant::now();
        let last = closed || stop.requested() || end.is_some_and(|e| now >= e);
        if now >= next || last {
            let rep = window.report(messages, new, lost);
            if a.json {
                outln!("{}", serde_json::to_string(&rep)?)?;
            } else {
                outln!("{}", text(&rep, show))?;
            }
            std::io::stdout().flush()?;
            new = 0;
            reports += 1;
            next += a.interval;
            if last || a.count.is_some_and(|c| reports >= c) {
                return Ok(ExitCode::SUCCESS);
            }
        }
        let wait = next
            .min(end.unwrap_or(next))
            .saturating_duration_since(Instant::now())
            .min(TICK);
        match r.recv(&mut buf, wait)? {
            Got::Message { len, .. } => {
                window.push(Instant::now(), len);
                messages += 1;
                new += 1;
            }
            Got::Lost(n) => lost += n,
            Got::Timeout => {}
            Got::Closed => closed = true,
        }
    }
}

/// A channel's counters now: messages and payload bytes sent (`None` once it is gone).
fn channel_counts(name: &str) -> Result<Option<(u64, u64)>> {
    let info = match shmkit::inspect::inspect(name) {
        Ok(i) => i,
        Err(shmkit::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("looking at {name:?}")),
    };
    match (info.details, info.details_error) {
        (Some(Details::Channel(c)), _) => Ok(Some((c.sent, c.bytes_sent))),
        (_, Some(why)) => bail!("reading the counters of {name:?}: {why}"),
        _ => bail!("{name:?} is no longer a channel"),
    }
}

/// `hz`/`bw` on a channel: the differences of its counters every interval, joining nothing.
fn from_counters(a: &RateArgs, show: Show) -> Result<ExitCode> {
    let name = a.name.as_str();
    let stop = Stop::install()?;
    let Some((sent0, bytes0)) = channel_counts(name)? else {
        bail!("channel {name:?} went away");
    };
    let start = Instant::now();
    let end = a.duration.and_then(|d| start.checked_add(d));
    let (mut before, mut at, mut reports) = ((sent0, bytes0), start, 0u64);
    loop {
        let wait = end.map_or(a.interval, |e| {
            a.interval.min(e.saturating_duration_since(Instant::now()))
        });
        let stopped = stop.sleep(wait);
        let counts = channel_counts(name)?;
        let now = Instant::now();
        let (sent, bytes) = counts.unwrap_or(before);
        let secs = now.duration_since(at).as_secs_f64();
        let new = sent.saturating_sub(before.0);
        let new_bytes = bytes.saturating_sub(before.1);
        let rate = (secs > 0.0).then(|| new as f64 / secs);
        let rep = Report {
            time: unix_now(),
            messages: sent.saturating_sub(sent0),
            new,
            lost: 0,
            window: usize::try_from(new).unwrap_or(usize::MAX),
            rate,
            min: None,
            max: None,
            mean: None,
            std_dev: None,
            bytes_per_s: (secs > 0.0).then(|| new_bytes as f64 / secs),
            size_min: None,
            size_mean: (new > 0).then(|| new_bytes as f64 / new as f64),
            size_max: None,
        };
        if a.json {
            outln!("{}", serde_json::to_string(&rep)?)?;
        } else {
            outln!("{}", counters_text(&rep, show))?;
        }
        std::io::stdout().flush()?;
        reports += 1;
        (before, at) = ((sent, bytes), now);
        let over = end.is_some_and(|e| now >= e) || a.count.is_some_and(|c| reports >= c);
        if stopped || over || counts.is_none() {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// The text line of a report made from a channel's counters.
fn counters_text(r: &Report, show: Show) -> String {
    match (show, r.rate, r.bytes_per_s, r.size_mean) {
        (_, _, _, None) => "no new messages".into(),
        (Show::Hz, Some(rate), _, _) => format!(
            "average rate: {rate:.3} msgs/s\n\t(the channel's counters: no inter-arrival times)"
        ),
        (Show::Bw, _, Some(bw), Some(mean)) => format!(
            "{}/s from {} messages\n\tmessage size mean: {} (the channel's counters)",
            human(bw as u64),
            r.new,
            human(mean as u64)
        ),
        _ => "no new messages".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_stream_has_its_rate_and_no_jitter() {
        let t0 = Instant::now();
        let mut w = Window {
            cap: 5,
            arrivals: VecDeque::new(),
        };
        assert_eq!(w.report(0, 0, 0).rate, None);
        for i in 0..10u64 {
            w.push(t0 + Duration::from_millis(20 * i), 100 + i as usize);
        }
        let r = w.report(10, 10, 0);
        assert_eq!(r.window, 5);
        assert!((r.rate.unwrap() - 50.0).abs() < 1e-6, "{r:?}");
        assert!(r.std_dev.unwrap() < 1e-9);
        assert_eq!((r.size_min, r.size_max), (Some(105), Some(109)));
        assert!((r.bytes_per_s.unwrap() - 50.0 * 107.0).abs() < 1e-6);
    }
}
