//! A service, the server side: creates the service and answers three requests (each
//! answer: the request in capitals). Start it and `service_client` in two terminals, in
//! either order.
//!
//! Usage: `service_server [NAME]` (default `shmkit-example-service`).

use shmkit::service;

fn main() -> shmkit::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmkit-example-service".into());

    // One server per name; up to 4 clients may be connected at once.
    let mut server = service::options().max_clients(4).create_server(&name)?;
    println!("server: created {name:?}, waiting for requests");

    for _ in 0..3 {
        // The next request from any client (waits for one). It derefs to its bytes and
        // carries a handle that says whom to answer.
        let request = server.recv()?;
        let answer = String::from_utf8_lossy(&request).to_uppercase();
        println!(
            "server: {:?} -> {answer:?}",
            String::from_utf8_lossy(&request)
        );
        server.respond(request.handle(), answer.as_bytes())?;
    }
    println!("server: answered 3 requests");
    // Dropping the server removes the service; clients still waiting get `Disconnected`.
    Ok(())
}
