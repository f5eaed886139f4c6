//! A counter shared by processes: a `u64` in shared memory behind a robust mutex
//! (`Shared<T>`). Run this program twice at once (two terminals): each adds 1000, then
//! waits until both have, and prints the total, 2000.
//!
//! Usage: `sync_counter [NAME]` (default `shmkit-example-counter`).

use std::time::{Duration, Instant};

use shmkit::sync::Shared;

const ADD: u64 = 1000;

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-counter".into());

    // Whichever process comes first creates the counter (at 0); the other opens it.
    let counter = Shared::<u64>::options().open_or_create(&name, 0)?;
    println!(
        "counter: {} {name:?}",
        if counter.is_creator() {
            "created"
        } else {
            "opened"
        }
    );

    for _ in 0..ADD {
        // `lock` waits for the other process's hold. If a holder dies holding it, the next
        // `lock` says so (`OwnerDied`) instead of waiting forever.
        let mut n = counter.lock()?;
        let v = n.get();
        n.set(v + 1); // a read-modify-write no other process can interleave with
    }

    // Wait (up to 30 s) for the other process to add its share.
    let start = Instant::now();
    let total = loop {
        let total = counter.lock()?.get();
        if total >= 2 * ADD || start.elapsed() > Duration::from_secs(30) {
            break total;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    println!("counter: total {total}");
    Ok(())
}
