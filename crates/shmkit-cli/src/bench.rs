//! `shmkit bench`: runs the separate `shmkit-bench` program, so that the benchmark harness and
//! the peers it measures against (iceoryx2, raw_sync) stay out of the `shmkit` binary.
//!
//! Like git's subcommands, the program is looked for next to this executable (where
//! `cargo build --workspace` and `cargo install` put it), then on `PATH`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

#[cfg(not(unix))]
use anyhow::Context;
use anyhow::{bail, Result};

/// The benchmark program's file name on this OS.
fn program() -> String {
    format!("shmkit-bench{}", std::env::consts::EXE_SUFFIX)
}

/// Where `shmkit-bench` is: next to this executable, or else on `PATH`.
fn find() -> Option<PathBuf> {
    let name = program();
    let beside = std::env::current_exe()
        .ok()
        .and_then(|me| Some(me.parent()?.join(&name)));
    let path = std::env::var_os("PATH").unwrap_or_default();
    beside
        .into_iter()
        .chain(std::env::split_paths(&path).map(|dir| dir.join(&name)))
        .find(|p| p.is_file())
}

/// Runs `shmkit-bench ARGS`; its exit status is this command's.
pub fn run(args: &[OsString]) -> Result<ExitCode> {
    let Some(exe) = find() else {
        bail!(
            "`shmkit bench` runs the separate program `{}`, which is neither next to shmkit nor \
             on PATH — from a clone of the repository, run `cargo run --release -p shmkit-bench \
             -- ARGS`, or install it with `cargo install --path bench`",
            program()
        );
    };
    let mut cmd = Command::new(&exe);
    cmd.args(args);
    exec(cmd, &exe)
}

/// Unix: becomes the benchmark (so signals, standard streams and the exit status are its own).
#[cfg(unix)]
fn exec(mut cmd: Command, exe: &std::path::Path) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let e = cmd.exec(); // returns only on failure
    bail!("running {}: {e}", exe.display())
}

/// Elsewhere: runs the benchmark and passes its exit status on.
#[cfg(not(unix))]
fn exec(mut cmd: Command, exe: &std::path::Path) -> Result<ExitCode> {
    let status = cmd
        .status()
        .with_context(|| format!("running {}", exe.display()))?;
    Ok(status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .map_or(ExitCode::FAILURE, ExitCode::from))
}
