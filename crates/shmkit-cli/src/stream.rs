//! `send` and `recv`: a byte stream through an shmkit channel, with a progress bar on a
//! terminal.
//!
//! Protocol on the channel: one 8-byte message with the total length (`u64::MAX` when unknown,
//! e.g. standard input), then chunks read straight into loans (zero-copy on the sending side),
//! then an empty message marking the end. A receiver that sees the channel disconnect before
//! the empty message reports a truncated stream.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use shmkit::channel::{self, WaitStrategy};

use crate::out::errln;
use crate::stop::Stop;

const CHUNK: usize = 1 << 20;
const UNKNOWN: u64 = u64::MAX;

fn progress(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    if total == UNKNOWN {
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {bytes} ({bytes_per_sec})").expect("template"),
        );
        pb
    } else {
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
            )
            .expect("template"),
        );
        pb
    }
}

/// Sends `input` (a file, or `-` for standard input) to the receiver of channel `name`.
///
/// Installs no signal handler: the sender owns no name (the receiver created the channel), so
/// Ctrl-C, SIGTERM or SIGHUP end it at once, even while it waits for standard input, and the
/// receiver sees it go (`Error::Disconnected`), as it would after a crash.
pub fn send(name: &str, input: &Path, wait: Duration, strategy: WaitStrategy) -> Result<ExitCode> {
    let (mut reader, total): (Box<dyn Read>, u64) = if input == Path::new("-") {
        (Box::new(std::io::stdin().lock()), UNKNOWN)
    } else {
        let f = File::open(input).with_context(|| format!("opening {}", input.display()))?;
        let len = f.metadata()?.len();
        (Box::new(f), len)
    };
    let mut tx = match channel::options()
        .wait_strategy(strategy)
        .open_timeout(wait)
        .open_producer(name)
    {
        Ok(tx) => tx,
        Err(shmkit::Error::NotFound { .. }) => bail!(
            "no channel {name:?} after {} — start `shmkit recv {name}` first, or give \
             --wait (without a value: until it appears)",
            humantime::format_duration(wait)
        ),
        Err(e) => return Err(e).with_context(|| format!("opening channel {name:?}")),
    };
    tx.send(&total.to_le_bytes())
        .with_context(|| format!("sending to {name:?}"))?;
    let chunk = CHUNK.min(tx.max_message_len());
    let pb = progress(total);
    loop {
        let mut loan = tx
            .loan(chunk)
            .with_context(|| format!("sending to {name:?}"))?;
        let n = read_some(&mut reader, &mut loan).context("reading the input")?;
        loan.truncate(n);
        loan.commit(); // an empty message (n == 0) marks the end
        pb.inc(n as u64);
        if n == 0 {
            break;
        }
    }
    pb.finish_and_clear();
    // Dropping the producer now is fine: the receiver drains the end marker before it can
    // see the disconnect.
    Ok(ExitCode::SUCCESS)
}

/// Reads until `buf` is full or the input ends; returns the bytes read (0 only at the end).
fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How often a waiting `recv` looks whether Ctrl-C, SIGTERM or SIGHUP has arrived.
const TICK: Duration = Duration::from_millis(100);

/// Creates channel `name`, receives one stream and writes it to `output` (or standard output).
///
/// The consumer created the channel, so dropping it removes the name: every way out of here
/// (the end of the stream, an error, a closed standard output, Ctrl-C, SIGTERM or SIGHUP)
/// goes through that drop.
pub fn recv(
    name: &str,
    output: Option<&Path>,
    capacity: u64,
    mode: u32,
    strategy: WaitStrategy,
) -> Result<ExitCode> {
    let capacity = usize::try_from(capacity).context("capacity too large")?;
    let stop = Stop::install()?;
    let mut rx = channel::options()
        .capacity(capacity)
        .mode(mode)
        .wait_strategy(strategy)
        .create_consumer(name)
        .with_context(|| format!("creating channel {name:?}"))?;
    let mut out: Box<dyn Write> = match output {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    if std::io::stderr().is_terminal() {
        errln!("waiting for `shmkit send {name} FILE`...");
    }
    // The announced length, once the first message has arrived.
    let mut total: Option<u64> = None;
    let mut pb = ProgressBar::hidden();
    let mut got = 0u64;
    loop {
        let m = match rx.recv_timeout(TICK) {
            Ok(m) => m,
            Err(shmkit::Error::Timeout { .. }) if stop.requested() => {
                pb.abandon();
                bail!("interrupted after receiving {got} bytes of {name:?}, before the end of the stream");
            }
            Err(shmkit::Error::Timeout { .. }) => continue,
            Err(shmkit::Error::Disconnected { .. }) if total.is_some() => {
                pb.abandon();
                bail!("the sender of {name:?} went away after {got} bytes, before the end of the stream");
            }
            Err(e) => return Err(e).with_context(|| format!("receiving on {name:?}")),
        };
        if total.is_none() {
            let bytes: [u8; 8] = m[..]
                .try_into()
                .context("the stream does not start with its length")?;
            let announced = u64::from_le_bytes(bytes);
            total = Some(announced);
            pb = progress(announced);
            continue;
        }
        if m.is_empty() {
            break;
        }
        out.write_all(&m)?;
        got += m.len() as u64;
        pb.inc(m.len() as u64);
        if stop.requested() {
            pb.abandon();
            bail!(
                "interrupted after receiving {got} bytes of {name:?}, before the end of the stream"
            );
        }
    }
    out.flush()?;
    pb.finish_and_clear();
    if total != Some(UNKNOWN) && total != Some(got) {
        bail!(
            "received {got} bytes of {name:?}, the sender announced {}",
            total.unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
