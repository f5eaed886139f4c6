//! The classic server: creates the 4096-byte segment `MySharedMem`, copies a message into it,
//! and waits for a client's reply. Run `cargo run --example client` in another terminal.
//!
//! Usage: `cargo run --example server [NAME]`

// Each example uses part of the shared module.
#[allow(dead_code)]
mod classic;

use std::time::Duration;

fn main() -> classic::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| classic::NAME.into());
    classic::server(
        &name,
        "Message from the server process.",
        Duration::from_secs(300),
    )?;
    Ok(())
}
