//! A channel, the receiving side: creates the channel, then prints every message until the
//! producer is done. Start it and `channel_producer` in two terminals, in either order:
//!
//! ```sh
//! cargo run --example channel_consumer      # terminal 1
//! cargo run --example channel_producer      # terminal 2
//! ```
//!
//! Usage: `channel_consumer [NAME]` (default `shmkit-example-channel`).

use shmkit::channel;

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-channel".into());

    // Either side may create a channel. Here the consumer does (as `shmkit recv` does): it can
    // then wait for a producer that comes later. The creator removes the name when it ends.
    let mut rx = channel::options()
        .capacity(64 << 10) // a 64 KiB ring in shared memory
        .create_consumer(&name)?;
    println!("consumer: created {name:?}, waiting for messages");

    loop {
        match rx.recv() {
            // A sample is read in place, in the shared memory: no copy. Dropping it frees
            // its room in the ring.
            Ok(msg) => println!("consumer: got {:?}", String::from_utf8_lossy(&msg)),
            // The producer has gone, and every message it sent has been received.
            Err(shmkit::Error::Disconnected { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    println!("consumer: the producer is done");
    Ok(())
}
