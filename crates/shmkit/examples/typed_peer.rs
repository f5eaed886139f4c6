//! The consumer of a typed channel (or a subscriber of a typed broadcast), built on its own:
//! it defines its own `Reading` struct, as a separately written program would. The
//! integration tests run it against a producer whose `Reading` has the same layout (it works)
//! and against one whose layout differs (the open fails with `LayoutMismatch`, naming both
//! layouts).
//!
//! Usage: `typed_peer [--broadcast] same|other NAME COUNT` — opens `NAME` as the consumer of
//! `Reading`s (the `same` layout as the tests' struct, or an `other` one), receives `COUNT`
//! values and prints each; on an error prints `error: <kind>: <message>` and exits with 1.
//! With `--broadcast` it subscribes to the typed broadcast `NAME` instead, and prints
//! `subscribed` once it has joined (it receives only what is published after that).

use std::process::ExitCode;
use std::time::Duration;

use shmkit::channel::{self, broadcast};
use shmkit::sync::{Pod, Zeroable};

/// The same fields, in the same order, as the tests' `Reading`: 24 bytes, aligned to 8.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Reading {
    seq: u64,
    value: f64,
    sensor: u32,
    flags: u32,
}

/// "Reading" with a narrower value: 16 bytes, so another layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct OtherReading {
    seq: u64,
    value: f32,
    sensor: u32,
}

const TAG: &str = "reading v1";
const TIMEOUT: Duration = Duration::from_secs(60);

fn receive<T: Pod + std::fmt::Debug>(name: &str, count: usize) -> shmkit::Result<()> {
    let mut rx = channel::typed::<T>().tag(TAG).open_consumer(name)?;
    for _ in 0..count {
        let value = rx.recv_timeout(TIMEOUT)?;
        println!("got {:?}", *value);
    }
    Ok(())
}

fn subscribe<T: Pod + std::fmt::Debug>(name: &str, count: usize) -> shmkit::Result<()> {
    let mut sub = broadcast::typed::<T>().tag(TAG).open_subscriber(name)?;
    println!("subscribed");
    for _ in 0..count {
        let value = sub.recv_timeout(TIMEOUT)?;
        println!("got {:?}", *value);
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let bcast = args.first().is_some_and(|a| a == "--broadcast");
    if bcast {
        args.remove(0);
    }
    let [layout, name, count] = &args[..] else {
        eprintln!("usage: typed_peer [--broadcast] same|other NAME COUNT");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse() else {
        eprintln!("typed_peer: COUNT must be a number");
        return ExitCode::from(2);
    };
    let r = match (bcast, layout.as_str()) {
        (false, "same") => receive::<Reading>(name, count),
        (false, _) => receive::<OtherReading>(name, count),
        (true, "same") => subscribe::<Reading>(name, count),
        (true, _) => subscribe::<OtherReading>(name, count),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let kind = match e {
                shmkit::Error::LayoutMismatch { .. } => "LayoutMismatch",
                _ => "other",
            };
            println!("error: {kind}: {e}");
            ExitCode::FAILURE
        }
    }
}
