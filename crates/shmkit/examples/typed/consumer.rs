//! A typed channel, the receiving side: carries `Reading` values (plain old data) instead of
//! bytes. Creates the channel and prints every reading until the producer is done. Start it
//! and `typed_producer` in two terminals, in either order.
//!
//! Usage: `typed_consumer [NAME]` (default `shmkit-example-typed`).

use shmkit::channel;
use shmkit::sync::{Pod, Zeroable};

/// What goes through the channel: `#[repr(C)]`, no pointers (`Pod`). The channel records
/// its size, alignment and the tag below, and an open with another layout fails with
/// `LayoutMismatch`. The other program declares the same struct on its own.
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

    let mut rx = channel::typed::<Reading>()
        .tag("reading v1") // names the type, so that a different one is caught
        .capacity(4096)
        .create_consumer(&name)?;
    println!("consumer: created {name:?}, waiting for readings");

    loop {
        match rx.recv_copy() {
            Ok(r) => println!("consumer: reading {} = {:.1} °C", r.seq, r.celsius),
            Err(shmkit::Error::Disconnected { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    println!("consumer: the producer is done");
    Ok(())
}
