//! A channel, the sending side: opens the channel `channel_consumer` creates (waiting for it
//! to appear, so either may start first) and sends six messages.
//!
//! Usage: `channel_producer [NAME]` (default `shmkit-example-channel`).

use std::time::Duration;

use shmkit::channel;

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-channel".into());

    // `open_timeout`: if the channel does not exist yet, look again until it does, for up to
    // 30 s (then the error is `NotFound`, as without a wait).
    let mut tx = channel::options()
        .open_timeout(Duration::from_secs(30))
        .open_producer(&name)?;

    for i in 1..=5 {
        // `send` copies the bytes into the ring (and waits while the ring is full).
        tx.send(format!("message {i}").as_bytes())?;
    }

    // Zero-copy: borrow room in the ring, write the message in place, then commit it.
    let mut loan = tx.loan(5)?;
    loan.copy_from_slice(b"done!");
    loan.commit();

    println!("producer: sent 6 messages to {name:?}");
    // Dropping `tx` tells the consumer: it gets `Disconnected` after the last message.
    Ok(())
}
