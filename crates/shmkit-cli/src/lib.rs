//! The `shmkit` command-line tool as a library: the `shmkit` binary is [`main`], and the
//! separate `shmkit-bridge` binary (crate `shmkit-bridge`, which turns on this crate's
//! `bridge` feature and with it Zenoh) is [`bridge_main`]. Not an API: the modules are the
//! binaries' own, public only so that the two binaries share them.
//!
//! Exit codes: 0 success, 1 the operation failed (message on stderr, one line, with a hint
//! where one helps), 2 the command line was wrong (clap's message).

#[cfg(feature = "bridge")]
mod bridge;
mod cli;
mod commands;
mod endpoint;
mod external;
mod hexdump;
mod out;
mod rate;
mod record;
mod replay;
mod report;
mod service_cmd;
mod stop;
mod stream;
mod table;
mod top;
mod topic;
mod units;

use std::io;
use std::process::ExitCode;

use clap::Parser;

/// The `shmkit` program: parses the command line, runs the command, maps the outcome to an
/// exit code.
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// The `shmkit` program with these arguments (the first is the program's name, as in
/// `std::env::args_os`): what `python -m shmkit` runs, in its own process. A bad command line
/// prints clap's message and ends the process with status 2, as the binary does.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = cli::Cli::parse_from(args);
    finish("shmkit", commands::run(cli.command))
}

/// [`main_from`]'s exit status as a number, for callers that pass it on (`ExitCode` keeps it
/// to itself).
pub fn exit_status(code: ExitCode) -> u8 {
    (0..=u8::MAX)
        .find(|&n| ExitCode::from(n) == code)
        .unwrap_or(1)
}

/// The `shmkit-bridge` program: `shmkit bridge`'s arguments, as a program of its own.
#[cfg(feature = "bridge")]
pub fn bridge_main() -> ExitCode {
    /// Forward channels, broadcasts and services to and from Zenoh, across machines (what
    /// `shmkit bridge` runs).
    #[derive(Parser)]
    #[command(name = "shmkit-bridge", version)]
    struct BridgeCli {
        #[command(flatten)]
        args: bridge::Args,
    }
    let cli = BridgeCli::parse();
    finish("shmkit-bridge", bridge::run(cli.args))
}

/// Exit code and message for a command's outcome.
fn finish(program: &str, outcome: anyhow::Result<ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        // `shmkit read x | head`: the reader has all it wanted (see `out`).
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            out::errln!("{program}: {}", report::message(&e));
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
