//! A typed channel, the sending side: opens the channel `typed_consumer` creates (waiting
//! for it to appear) and sends five `Reading`s.
//!
//! Usage: `typed_producer [NAME]` (default `shmkit-example-typed`).

use std::time::Duration;

use shmkit::channel;
use shmkit::sync::{Pod, Zeroable};

/// The same declaration as in `typed/consumer.rs`: same fields, same order, same tag.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Reading {
    seq: u64,
    celsius: f64,
}

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-typed".into());

    let mut tx = channel::typed::<Reading>()
        .tag("reading v1")
        .open_timeout(Duration::from_secs(30))
        .open_producer(&name)?;

    for seq in 1..=5 {
        // The value is copied into the ring as it is laid out in memory.
        tx.send(&Reading {
            seq,
            celsius: 20.0 + seq as f64 / 2.0,
        })?;
    }
    println!("producer: sent 5 readings to {name:?}");
    Ok(())
}
