//! The channel consumer of `channel_consumer`, written with async/await (feature `tokio`):
//! `recv().await` instead of a blocking `recv()`, so one thread can serve many channels and
//! other tasks. Pair it with `channel_producer`, in either order:
//!
//! ```sh
//! cargo run --features tokio --example async_consumer   # terminal 1
//! cargo run --example channel_producer                  # terminal 2
//! ```
//!
//! Usage: `async_consumer [NAME]` (default `shmkit-example-channel`).

use shmkit::aio::Async;
use shmkit::channel;

#[tokio::main(flavor = "current_thread")]
async fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-channel".into());

    let rx = channel::options()
        .capacity(64 << 10)
        .create_consumer(&name)?;
    // `Async` wraps a side; its waits become futures (cancellation-safe). They sleep on
    // shmkit's reactor thread, not on this one.
    let mut rx = Async::new(rx);
    println!("consumer: created {name:?}, waiting for messages");

    loop {
        match rx.recv().await {
            Ok(msg) => println!("consumer: got {:?}", String::from_utf8_lossy(&msg)),
            Err(shmkit::Error::Disconnected { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    println!("consumer: the producer is done");
    Ok(())
}
