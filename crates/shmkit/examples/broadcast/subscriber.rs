//! A broadcast, a subscribing side: joins the broadcast `broadcast_publisher` creates
//! (waiting for it to appear, so either may start first) and prints what is published.
//!
//! Usage: `broadcast_subscriber [NAME]` (default `shmkit-example-broadcast`).

use std::time::Duration;

use shmkit::channel::broadcast;

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-broadcast".into());

    // `open_timeout`: wait up to 30 s for the broadcast to appear.
    let mut sub = broadcast::options()
        .open_timeout(Duration::from_secs(30))
        .open_subscriber(&name)?;
    println!("subscriber: joined {name:?}");

    loop {
        match sub.recv() {
            // Read in place; every message has a sequence number.
            Ok(msg) => println!(
                "subscriber: got {:?} (seq {})",
                String::from_utf8_lossy(&msg),
                msg.seq()
            ),
            // The publisher has gone and everything it published has been read.
            Err(shmkit::Error::Disconnected { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    println!("subscriber: the publisher is done");
    Ok(())
}
