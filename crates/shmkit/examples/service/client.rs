//! A service, a client: connects to the service `service_server` creates (waiting for it to
//! appear, so either may start first) and makes three calls.
//!
//! Usage: `service_client [NAME]` (default `shmkit-example-service`).

use std::time::Duration;

use shmkit::service;

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-service".into());

    // `open_timeout`: wait up to 30 s for the server to create the service.
    let mut client = service::options()
        .open_timeout(Duration::from_secs(30))
        .open_client(&name)?;

    for word in ["hello", "shared", "memory"] {
        // `call` = `request` (copies the request in) + `wait` (for its response). With
        // `request` alone, several requests can be outstanding at once.
        let response = client.call(word.as_bytes())?;
        println!(
            "client: {word:?} -> {:?}",
            String::from_utf8_lossy(&response)
        );
    }
    Ok(())
}
