//! Subcommands that run a separate program, so that what they need stays out of the `shmkit`
//! binary: `shmkit bench` runs `shmkit-bench` (the benchmark harness and the peers it measures
//! against: iceoryx2, raw_sync), and `shmkit bridge` runs `shmkit-bridge` (Zenoh) when this
//! binary was built without its `bridge` feature, as `cargo run -p shmkit-cli` and
//! `cargo install --path crates/shmkit-cli` build it.
//!
//! Like git's subcommands, the program is looked for next to this executable (where
//! `cargo build --workspace` and `cargo install` put it), then on `PATH`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

#[cfg(not(unix))]
use anyhow::Context;
use anyhow::{bail, Result};

/// A program a subcommand runs: its name, and how to get it when it is missing.
pub(crate) struct Program {
    pub(crate) name: &'static str,
    pub(crate) subcommand: &'static str,
    pub(crate) get: &'static str,
}

/// `shmkit bench`.
pub(crate) const BENCH: Program = Program {
    name: "shmkit-bench",
    subcommand: "bench",
    get: "from a clone of the repository, run `cargo run --release -p shmkit-bench -- ARGS`, \
          or install it with `cargo install --path bench`",
};

/// `shmkit bridge`, in a `shmkit` built without the `bridge` feature.
#[cfg(not(feature = "bridge"))]
pub(crate) const BRIDGE: Program = Program {
    name: "shmkit-bridge",
    subcommand: "bridge",
    get: "from a clone of the repository, run `cargo run -p shmkit-bridge -- ARGS`, or \
          install it with `cargo install --path crates/shmkit-bridge` (it builds Zenoh: a few \
          minutes)",
};

impl Program {
    /// The program's file name on this OS.
    fn file(&self) -> String {
        format!("{}{}", self.name, std::env::consts::EXE_SUFFIX)
    }

    /// Where it is: next to this executable, or else on `PATH`.
    fn find(&self) -> Option<PathBuf> {
        let name = self.file();
        let beside = std::env::current_exe()
            .ok()
            .and_then(|me| Some(me.parent()?.join(&name)));
        let path = std::env::var_os("PATH").unwrap_or_default();
        beside
            .into_iter()
            .chain(std::env::split_paths(&path).map(|dir| dir.join(&name)))
            .find(|p| p.is_file())
    }

    /// Runs the program with `args`; its exit status is this command's.
    pub(crate) fn run(&self, args: &[OsString]) -> Result<ExitCode> {
        let Some(exe) = self.find() else {
            bail!(
                "`shmkit {}` runs the separate program `{}`, which is neither next to shmkit \
                 nor on PATH — {}",
                self.subcommand,
                self.file(),
                self.get
            );
        };
        let mut cmd = Command::new(&exe);
        cmd.args(args);
        exec(cmd, &exe)
    }
}

/// Unix: becomes the program (so signals, standard streams and the exit status are its own).
#[cfg(unix)]
fn exec(mut cmd: Command, exe: &std::path::Path) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let e = cmd.exec(); // returns only on failure
    bail!("running {}: {e}", exe.display())
}

/// Elsewhere: runs the program and passes its exit status on.
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
