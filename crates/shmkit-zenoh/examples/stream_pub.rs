//! A checked stream's publisher: creates the shmkit broadcast `--name` and sends `--count`
//! messages in the format of `common/stream.rs` (sequence number, length, checksum, a payload
//! derived from the sequence number), then prints one JSON line:
//!
//! ```text
//! {"role":"publisher","name":"…","sent":1000,"first_seq":0,"last_seq":999,"bytes":…,
//!  "subscribers":1,"elapsed_ms":…}
//! ```
//!
//! `subscribers` is the subscriber count when sending began. Run with `--help` for the flags.
//! The bridge tests run it on each simulated machine, with `stream_sub` at the other end.

#[path = "common/stream.rs"]
mod stream;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use shmkit::channel::broadcast::{self, Policy};
use stream::{Sizes, HEADER, MAX_SIZE};

/// Publish a checked stream on a shmkit broadcast.
#[derive(Parser)]
struct Args {
    /// Name of the broadcast to create.
    #[arg(long)]
    name: String,
    /// Messages to send.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Message size in bytes (16 B ..= 1 MiB; suffixes like 4KiB work); the largest one with
    /// `--sizes mixed`.
    #[arg(long, default_value = "64", value_parser = parse_size)]
    size: usize,
    /// Every message `--size` bytes, or lengths that vary with the sequence number.
    #[arg(long, value_enum, default_value_t = Sizes::Fixed)]
    sizes: Sizes,
    /// Sequence number of the first message (a replacement publisher goes on from where the
    /// last one stopped).
    #[arg(long, default_value_t = 0)]
    start_seq: u64,
    /// Slots of the broadcast ring.
    #[arg(long, default_value_t = 16)]
    slots: usize,
    /// Back-pressure (`block`) or overwrite slow subscribers (`overwrite`).
    #[arg(long, default_value = "block", value_parser = parse_policy)]
    policy: Policy,
    /// Before sending, wait until this many subscribers are attached.
    #[arg(long, default_value_t = 0)]
    wait_subscribers: usize,
    /// How long to wait for them before giving up (exit code 1).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    wait_timeout: Duration,
    /// Pause between messages.
    #[arg(long, value_parser = humantime::parse_duration)]
    interval: Option<Duration>,
    /// After the last message, keep the broadcast open this long (so that late readers, like a
    /// bridge, can drain it before they see the publisher gone).
    #[arg(long, value_parser = humantime::parse_duration)]
    linger: Option<Duration>,
    /// Remove a broadcast of the same name first (one left by a killed publisher).
    #[arg(long)]
    replace: bool,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let n = parse_size::parse_size(s).map_err(|e| e.to_string())?;
    let n = usize::try_from(n).map_err(|e| e.to_string())?;
    if !(HEADER..=MAX_SIZE).contains(&n) {
        return Err(format!("must be between {HEADER} and {MAX_SIZE} bytes"));
    }
    Ok(n)
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    match s {
        "block" => Ok(Policy::Block),
        "overwrite" => Ok(Policy::Overwrite),
        _ => Err("block or overwrite".to_owned()),
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stream_pub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    if args.replace {
        let _ = shmkit::Segment::remove(&args.name);
    }
    let mut publ = broadcast::options()
        .slots(args.slots)
        .slot_size(args.size)
        .policy(args.policy)
        .create_publisher(&args.name)
        .with_context(|| format!("create broadcast {:?}", args.name))?;
    eprintln!("stream_pub: created {:?}", args.name);

    let deadline = Instant::now() + args.wait_timeout;
    while publ.subscribers() < args.wait_subscribers {
        if Instant::now() > deadline {
            bail!(
                "{} subscriber(s) after {:?}, wanted {}",
                publ.subscribers(),
                args.wait_timeout,
                args.wait_subscribers
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let subscribers = publ.subscribers();

    let start = Instant::now();
    let mut bytes = 0u64;
    let end = args.start_seq + args.count;
    for seq in args.start_seq..end {
        let len = stream::length(args.sizes, args.size, seq);
        let mut loan = publ
            .loan(len)
            .with_context(|| format!("loan for message {seq}"))?;
        stream::encode(seq, &mut loan);
        loan.commit();
        bytes += len as u64;
        if let Some(pause) = args.interval {
            std::thread::sleep(pause);
        }
    }
    let elapsed = start.elapsed();
    let summary = serde_json::json!({
        "role": "publisher",
        "name": args.name,
        "sent": args.count,
        "first_seq": (args.count > 0).then_some(args.start_seq),
        "last_seq": (args.count > 0).then(|| end - 1),
        "bytes": bytes,
        "subscribers": subscribers,
        "elapsed_ms": elapsed.as_millis() as u64,
    });
    println!("{summary}");
    if let Some(linger) = args.linger {
        std::thread::sleep(linger);
    }
    Ok(())
}
