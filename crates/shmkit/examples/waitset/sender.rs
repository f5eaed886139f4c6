//! The other side of `waitset_waiter`: opens the channels `NAME.a` and `NAME.b` (waiting for
//! them to appear) and sends two messages to each, taking turns.
//!
//! Usage: `waitset_sender [NAME]` (default `shmkit-example-waitset`).

use std::time::Duration;

use shmkit::channel;

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-waitset".into());

    let mut opts = channel::options();
    opts.open_timeout(Duration::from_secs(30)); // either program may start first
    let mut a = opts.open_producer(&format!("{name}.a"))?;
    let mut b = opts.open_producer(&format!("{name}.b"))?;

    for i in 1..=2 {
        a.send(format!("a{i}").as_bytes())?;
        std::thread::sleep(Duration::from_millis(20)); // let the waiter see them one by one
        b.send(format!("b{i}").as_bytes())?;
    }
    println!("sender: sent 2 messages to each channel");
    Ok(())
}
