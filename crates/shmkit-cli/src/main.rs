//! `shmkit`: create, inspect, list, clean up and stream shared memory from the shell. The
//! program lives in the crate's library (`shmkit_cli::main`), which `shmkit-bridge` shares.

use std::process::ExitCode;

fn main() -> ExitCode {
    shmkit_cli::main()
}
