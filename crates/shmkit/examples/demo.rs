//! The classic scenario end to end: starts a server and a client as two separate processes
//! (this same program, re-executed with a role) and prints what each one saw.
//!
//! Usage: `cargo run --example demo [NAME]` (default name `MySharedMem`)

mod classic;

use std::process::{Command, ExitCode};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> classic::Result<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--server") => {
            classic::server(&args[2], "Message from the server process.", TIMEOUT)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some("--client") => {
            classic::client(&args[2], "Hello back from the client process.", TIMEOUT)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let name = args.get(1).cloned().unwrap_or_else(|| classic::NAME.into());
    let exe = std::env::current_exe()?;
    println!("demo: starting a server process and a client process sharing {name:?}");
    let mut server = Command::new(&exe).args(["--server", &name]).spawn()?;
    println!("demo: server is pid {}", server.id());
    let mut client = Command::new(&exe).args(["--client", &name]).spawn()?;
    println!("demo: client is pid {}", client.id());
    let client_ok = client.wait()?.success();
    let server_ok = server.wait()?.success();
    if client_ok && server_ok {
        println!(
            "demo: both processes finished; the message and the reply crossed process boundaries"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("demo: server ok: {server_ok}, client ok: {client_ok}");
        Ok(ExitCode::FAILURE)
    }
}
