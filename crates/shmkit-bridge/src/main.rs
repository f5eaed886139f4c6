//! `shmkit-bridge`: the Zenoh bridges of `shmkit-zenoh` as a program, what `shmkit bridge`
//! runs. A program of its own so that `shmkit` builds without Zenoh (about a minute on two
//! cores instead of five); the code is the CLI's (`shmkit_cli::bridge_main`).

use std::process::ExitCode;

fn main() -> ExitCode {
    shmkit_cli::bridge_main()
}
