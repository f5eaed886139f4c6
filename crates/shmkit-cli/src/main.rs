//! `shmkit`: create, inspect, list, clean up and stream shared memory from the shell.
//!
//! `main` → [`commands::run`] → exit code: 0 success, 1 the operation failed (message on stderr, one
//! line, with a hint where one helps), 2 the command line was wrong (clap's message).

mod bench;
#[cfg(feature = "bridge")]
mod bridge;
mod cli;
mod commands;
mod hexdump;
mod out;
mod report;
mod stop;
mod stream;
mod units;

use std::io;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse(); // exits with 2 (and a usage message) on a bad command line
    match commands::run(cli.command) {
        Ok(code) => code,
        // `shmkit read x | head`: the reader has all it wanted (see `out`).
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            out::errln!("shmkit: {}", report::message(&e));
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is a closed stdout (the reader went away): not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
