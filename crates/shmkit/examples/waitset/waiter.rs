//! A wait set: one thread waits on two channels at once and takes each message as it comes,
//! from whichever channel has one. Creates the channels `NAME.a` and `NAME.b` (as their
//! consumer); `waitset_sender`, in another terminal (either order), sends to both.
//!
//! Usage: `waitset_waiter [NAME]` (default `shmkit-example-waitset`).

use shmkit::{channel, WaitSet};

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-waitset".into());

    let mut labels = vec!["a", "b"];
    let mut consumers = Vec::new();
    for label in &labels {
        let o = channel::options()
            .capacity(4096)
            .create_consumer(&format!("{name}.{label}"));
        consumers.push(o?);
    }
    println!("waiter: created {name}.a and {name}.b, waiting on both");

    // A wait set holds no members: each `wait` is given the ones to wait on and returns the
    // indices of those that are ready (a message is there, or the producer is gone).
    let mut set = WaitSet::new();
    let mut buf = Vec::new();
    while !consumers.is_empty() {
        let ready = set.wait(&consumers)?.to_vec();
        for &i in ready.iter().rev() {
            // Ready means the next `try_` call does not say `WouldBlock`.
            match consumers[i].try_recv_into(&mut buf) {
                Ok(_) => println!(
                    "waiter: {} got {:?}",
                    labels[i],
                    String::from_utf8_lossy(&buf)
                ),
                Err(shmkit::Error::Disconnected { .. }) => {
                    println!("waiter: {} is done", labels[i]);
                    consumers.remove(i); // wait on the others only
                    labels.remove(i);
                }
                Err(shmkit::Error::WouldBlock { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
