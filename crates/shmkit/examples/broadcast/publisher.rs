//! A broadcast, the publishing side: creates the broadcast, waits for a subscriber, then
//! publishes five messages, which every subscriber reads in place. Start it and
//! `broadcast_subscriber` (one or more) in separate terminals, in either order.
//!
//! Usage: `broadcast_publisher [NAME]` (default `shmkit-example-broadcast`).

use std::time::Duration;

use shmkit::channel::broadcast;

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-broadcast".into());

    // A ring of 16 slots of up to 256 bytes. By default the publisher waits for the slowest
    // subscriber when the ring is full (`Policy::Block`); `Policy::Overwrite` would go on.
    let mut publisher = broadcast::options()
        .slots(16)
        .slot_size(256)
        .create_publisher(&name)?;
    println!("publisher: created {name:?}, waiting for a subscriber");

    // A subscriber sees only what is published after it joined: wait for one (30 s at most).
    publisher.wait_for_subscribers_timeout(1, Duration::from_secs(30))?;

    for i in 1..=5 {
        publisher.send(format!("tick {i}").as_bytes())?;
    }
    println!("publisher: published 5 messages");
    // Dropping the publisher: subscribers get `Disconnected` after the last message.
    Ok(())
}
