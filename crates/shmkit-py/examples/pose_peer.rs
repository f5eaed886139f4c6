//! A Rust typed peer of the Python tests (`tests/test_typed.py`) and benchmark: Rust's
//! `channel::typed::<Pose>()`, `broadcast::typed::<Pose>()` and `service::typed::<Add,
//! Sum>()` meet Python sides opened with the equivalent numpy dtype or ctypes struct.
//!
//! ```text
//! pose_peer produce NAME N        open the typed producer, send poses 0..N, then a slice
//!                                  of 3 (poses 100..103), then close
//! pose_peer consume NAME N        open the typed consumer, check poses 0..N, print the sum
//!                                  of their t_ns
//! pose_peer publish NAME N        create a typed publisher (back-pressure), wait for one
//!                                  subscriber, publish poses 0..N
//! pose_peer serve NAME N          serve N calls of the typed service (`Add` -> `Sum`)
//! pose_peer hop TRIPS             the typed 64-byte round trip (Rust to Rust), us/trip
//! pose_peer echo A B N            (its child) echo N `Msg64`s from channel A to B
//! ```
//!
//! Every peer prints `ready` once its side is open (its first line).

use std::io::{BufRead, BufReader, Write};

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast};
use shmkit::service;
use shmkit::sync::{Pod, Zeroable};

#[path = "common/pin.rs"]
mod pin;

/// The Python tests' `POSE` dtype (`align=True`) and ctypes `Pose`: 24 bytes, align 8.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[bytemuck(crate = "shmkit::bytemuck")]
struct Pose {
    t_ns: u64,
    xyz: [f32; 3],
    quality: u32,
}

const POSE_TAG: &str = "pose v1";

/// Pose `i`, as the tests make it.
fn pose(i: u64) -> Pose {
    let f = i as f32;
    Pose {
        t_ns: i,
        xyz: [f, f * 0.5, -f],
        quality: (i % 7) as u32,
    }
}

/// A typed service's request and response.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[bytemuck(crate = "shmkit::bytemuck")]
struct Add {
    a: i64,
    b: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[bytemuck(crate = "shmkit::bytemuck")]
struct Sum {
    sum: i64,
}

/// The benchmark's 64-byte message.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[bytemuck(crate = "shmkit::bytemuck")]
struct Msg64 {
    seq: u64,
    data: [u64; 7],
}

const WARM: usize = 200;
const HANG: Duration = Duration::from_secs(60);

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn ready() -> Result<()> {
    println!("ready");
    std::io::stdout().flush()?;
    Ok(())
}

fn produce(name: &str, n: u64) -> Result<()> {
    let mut tx = channel::typed::<Pose>()
        .tag(POSE_TAG)
        .open_timeout(HANG)
        .open_producer(name)?;
    ready()?;
    for i in 0..n {
        tx.send_timeout(&pose(i), HANG)?;
    }
    let slice: Vec<Pose> = (100..103).map(pose).collect();
    tx.send_slice_timeout(&slice, HANG)?;
    Ok(())
}

fn consume(name: &str, n: u64) -> Result<()> {
    let mut rx = channel::typed::<Pose>()
        .tag(POSE_TAG)
        .open_timeout(HANG)
        .open_consumer(name)?;
    ready()?;
    let mut sum = 0;
    for i in 0..n {
        let p = rx.recv_timeout(HANG)?;
        if *p != pose(i) {
            return Err(format!("message {i}: {:?}, expected {:?}", *p, pose(i)).into());
        }
        sum += p.t_ns;
    }
    println!("sum {sum}");
    Ok(())
}

fn publish(name: &str, n: u64) -> Result<()> {
    let mut tx = broadcast::typed::<Pose>()
        .tag(POSE_TAG)
        .slots(8)
        .create_publisher(name)?;
    ready()?;
    tx.wait_for_subscribers_timeout(1, HANG)?;
    for i in 0..n {
        tx.send_timeout(&pose(i), HANG)?;
    }
    Ok(())
}

fn serve(name: &str, n: u64) -> Result<()> {
    let mut server = service::typed::<Add, Sum>()
        .tag("add v1")
        .create_server(name)?;
    ready()?;
    for _ in 0..n {
        let req = server.recv_timeout(HANG)?;
        let sum = Sum {
            sum: req.value.a + req.value.b,
        };
        server.respond(req.handle(), &sum)?;
    }
    Ok(())
}

fn echo(a: &str, b: &str, n: usize) -> Result<()> {
    pin::pin(1);
    let mut rx = channel::typed::<Msg64>().open_consumer(a)?;
    let mut tx = channel::typed::<Msg64>().open_producer(b)?;
    ready()?;
    let mut m = Msg64::zeroed();
    for _ in 0..n {
        rx.recv_into(&mut m)?;
        tx.send(&m)?;
    }
    Ok(())
}

fn hop(n: usize) -> Result<f64> {
    pin::pin(0);
    let pid = std::process::id();
    let (a, b) = (format!("tp-rust-a-{pid}"), format!("tp-rust-b-{pid}"));
    let mut tx = channel::typed::<Msg64>()
        .capacity(1 << 16)
        .create_producer(&a)?;
    let mut rx = channel::typed::<Msg64>()
        .capacity(1 << 16)
        .create_consumer(&b)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["echo", &a, &b, &(WARM + n).to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    if lines.next().transpose()?.as_deref() != Some("ready") {
        return Err("the echo process did not start".into());
    }
    let mut msg = Msg64::zeroed();
    let mut trip = || -> Result<()> {
        msg.seq += 1;
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
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match args.as_slice() {
            ["produce", name, n] => produce(name, n.parse()?),
            ["consume", name, n] => consume(name, n.parse()?),
            ["publish", name, n] => publish(name, n.parse()?),
            ["serve", name, n] => serve(name, n.parse()?),
            ["echo", a, b, n] => echo(a, b, n.parse()?),
            ["hop", n] => {
                println!("{} us/trip", hop(n.parse()?)?);
                Ok(())
            }
            _ => Err("usage: pose_peer produce|consume|publish|serve NAME N | hop TRIPS".into()),
        }
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pose_peer: {e}");
            ExitCode::FAILURE
        }
    }
}
