//! A checked stream's subscriber: joins the shmkit broadcast `--name` (retrying while it does
//! not exist yet), receives until it has `--count` messages or nothing came for `--timeout`,
//! checks each one (format in `common/stream.rs`) and that sequence numbers strictly
//! increase, then prints one JSON line:
//!
//! ```text
//! {"role":"subscriber","name":"…","received":1000,"first_seq":0,"last_seq":999,"gaps":0,
//!  "duplicates":0,"corrupt":0,"lagged":0,"bytes":…,"subscriptions":1,"end":"count"}
//! ```
//!
//! * `gaps`: sequence numbers skipped between consecutive messages (total missing);
//! * `duplicates`: messages whose number was not above the last one;
//! * `corrupt`: messages that failed a check (length, checksum, payload); the first few are
//!   described on stderr. Their sequence numbers are not trusted: `first_seq`, `last_seq`,
//!   `gaps` and `duplicates` count only messages that passed;
//! * `lagged`: losses the broadcast itself reported (`Error::Lagged`, overwrite policy);
//! * `subscriptions`: how many broadcasts of that name delivered messages to it (more than
//!   one with `--follow` after the publisher was replaced);
//! * `end`: `count`, `idle` (timeout), `disconnected` (publisher gone, no `--follow`) or
//!   `not_found` (never joined).
//!
//! Exit code 0, or 1 if a message was corrupt or no broadcast was ever found.

#[path = "common/stream.rs"]
mod stream;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use shmkit::channel::broadcast::{self, Subscriber};
use shmkit::Error;
use stream::Sizes;

/// Receive and check a stream from a shmkit broadcast.
#[derive(Parser)]
struct Args {
    /// Name of the broadcast to join.
    #[arg(long)]
    name: String,
    /// Stop after this many messages (default: until the publisher is gone or idle timeout).
    #[arg(long)]
    count: Option<u64>,
    /// Stop when no message came for this long (also bounds each wait for a broadcast).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// When the publisher is gone, join the next broadcast of the same name and go on.
    #[arg(long)]
    follow: bool,
    /// The sender's `--size`: with it, each message's length is checked against the one the
    /// sender chose for its sequence number.
    #[arg(long, value_parser = parse_size)]
    size: Option<usize>,
    /// The sender's `--sizes` (used with `--size`).
    #[arg(long, value_enum, default_value_t = Sizes::Fixed)]
    sizes: Sizes,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let n = parse_size::parse_size(s).map_err(|e| e.to_string())?;
    usize::try_from(n).map_err(|e| e.to_string())
}

#[derive(Default)]
struct Tally {
    received: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    gaps: u64,
    duplicates: u64,
    corrupt: u64,
    lagged: u64,
    bytes: u64,
    subscriptions: u64,
}

impl Tally {
    fn message(&mut self, msg: &[u8], expect: Option<(Sizes, usize)>, scratch: &mut Vec<u8>) {
        self.received += 1;
        self.bytes += msg.len() as u64;
        match stream::check(msg, expect, scratch) {
            Ok(seq) => {
                self.first_seq.get_or_insert(seq);
                match self.last_seq {
                    Some(last) if seq <= last => self.duplicates += 1,
                    Some(last) => {
                        self.gaps += seq - last - 1;
                        self.last_seq = Some(seq);
                    }
                    None => self.last_seq = Some(seq),
                }
            }
            Err((seq, bad)) => {
                self.corrupt += 1;
                if self.corrupt > 10 {
                    return;
                }
                eprintln!(
                    "stream_sub: corrupt message #{} (seq {seq:?}, {} bytes): {bad:?}",
                    self.received,
                    msg.len()
                );
            }
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let expect = args.size.map(|s| (args.sizes, s));
    let mut tally = Tally::default();
    let end = receive(&args, expect, &mut tally);
    let summary = serde_json::json!({
        "role": "subscriber",
        "name": args.name,
        "received": tally.received,
        "first_seq": tally.first_seq,
        "last_seq": tally.last_seq,
        "gaps": tally.gaps,
        "duplicates": tally.duplicates,
        "corrupt": tally.corrupt,
        "lagged": tally.lagged,
        "bytes": tally.bytes,
        "subscriptions": tally.subscriptions,
        "end": end,
    });
    println!("{summary}");
    if tally.corrupt > 0 || end == "not_found" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Joins `name`, retrying while it does not exist (or its publisher is gone) until
/// `deadline`.
fn subscribe(name: &str, deadline: Instant) -> Option<Subscriber> {
    loop {
        match broadcast::options().open_subscriber(name) {
            Ok(sub) => return Some(sub),
            // Not there yet, or there but still being set up by its creator.
            Err(Error::NotFound { .. } | Error::Corrupt { .. }) => {}
            Err(e) => eprintln!("stream_sub: subscribe {name:?}: {e}; retrying"),
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The receive loop; returns how it ended.
fn receive(args: &Args, expect: Option<(Sizes, usize)>, tally: &mut Tally) -> &'static str {
    let mut scratch = Vec::new();
    let mut buf = Vec::new();
    let mut sub = match subscribe(&args.name, Instant::now() + args.timeout) {
        Some(s) => s,
        None => return "not_found",
    };
    eprintln!("stream_sub: subscribed to {:?}", args.name);
    let mut last_message = Instant::now();
    // Whether the current subscription delivered a message (then it counts in
    // `subscriptions`; a join of a dead publisher's leftover does not).
    let mut delivered = false;
    loop {
        if args.count.is_some_and(|n| tally.received >= n) {
            return "count";
        }
        let idle_left = args.timeout.saturating_sub(last_message.elapsed());
        if idle_left.is_zero() {
            return "idle";
        }
        match sub.recv_into_timeout(&mut buf, idle_left) {
            Ok(_) => {
                if !delivered {
                    delivered = true;
                    tally.subscriptions += 1;
                }
                tally.message(&buf, expect, &mut scratch);
                last_message = Instant::now();
            }
            Err(Error::Lagged { missed, .. }) => tally.lagged += missed,
            Err(Error::Timeout { .. }) => return "idle",
            Err(Error::Disconnected { .. }) if args.follow => {
                // The old broadcast may keep its name for a moment (or for good, if its
                // publisher was killed): a join that finds it gone again just retries.
                drop(sub);
                std::thread::sleep(Duration::from_millis(10));
                match subscribe(&args.name, last_message + args.timeout) {
                    Some(s) => sub = s,
                    None => return "idle",
                }
                if delivered {
                    eprintln!("stream_sub: subscribed to {:?} again", args.name);
                }
                delivered = false;
            }
            Err(Error::Disconnected { .. }) => return "disconnected",
            Err(e) => {
                eprintln!("stream_sub: receive: {e}");
                tally.corrupt += 1;
                return "error";
            }
        }
    }
}
