//! The Rust-API twin of the 64-byte round trip in `python -m shmkit.bench`: two channels
//! between two processes, the child echoing every message. Prints the microseconds per
//! round trip (mean over the timed trips, after 200 untimed ones).
//!
//! ```text
//! cargo build --release -p shmkit-py --examples
//! python -m shmkit.bench --rust target/release/examples
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use shmkit::channel;

#[path = "common/pin.rs"]
mod pin;

const WARM: usize = 200;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn echo(a: &str, b: &str, n: usize) -> Result<()> {
    pin::pin(1);
    let mut rx = channel::open_consumer(a)?;
    let mut tx = channel::options().open_producer(b)?;
    println!("ready");
    let mut buf = Vec::new();
    for _ in 0..n {
        rx.recv_into(&mut buf)?;
        tx.send(&buf)?;
    }
    Ok(())
}

fn pinger(n: usize) -> Result<f64> {
    pin::pin(0);
    let pid = std::process::id();
    let (a, b) = (format!("rt-rust-a-{pid}"), format!("rt-rust-b-{pid}"));
    let mut tx = channel::create_producer(&a, 1 << 16)?;
    let mut rx = channel::options().capacity(1 << 16).create_consumer(&b)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--echo", &a, &b, &(WARM + n).to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    if lines.next().transpose()?.as_deref() != Some("ready") {
        return Err("the echo process did not start".into());
    }
    let msg = [b'x'; 64];
    let mut trip = || -> Result<()> {
        tx.send(&msg)?;
        drop(rx.recv()?);
        Ok(())
    };
    for _ in 0..WARM {
        trip()?;
    }
    let t0 = Instant::now();
    for _ in 0..n {
        trip()?;
    }
    let per = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    child.wait()?;
    Ok(per)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = || -> Result<()> {
        match args.as_slice() {
            [flag, a, b, n] if flag == "--echo" => echo(a, b, n.parse()?),
            [n] => {
                println!("{} us/trip", pinger(n.parse()?)?);
                Ok(())
            }
            _ => Err("usage: round_trip_64b TRIPS".into()),
        }
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("round_trip_64b: {e}");
            ExitCode::FAILURE
        }
    }
}
