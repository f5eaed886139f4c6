//! The classic client: opens `MySharedMem` by name, prints the server's message and replies.
//!
//! Usage: `cargo run --example client [NAME]`

// Each example uses part of the shared module.
#[allow(dead_code)]
mod classic;

use std::time::Duration;

fn main() -> classic::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| classic::NAME.into());
    classic::client(
        &name,
        "Hello back from the client process.",
        Duration::from_secs(30),
    )?;
    Ok(())
}
