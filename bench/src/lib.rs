//! shmkit's benchmark harness (unpublished): every baseline runs in the same process run, so
//! the results are ratios that mean something on a noisy shared machine. Used by the
//! `shmkit-bench` binary and by `shmkit bench`.
//!
//! ```text
//! cargo run --release -p shmkit-bench -- [segment] [sync] [--quick] [--json]
//! ```
//!
//! With no bench named, all run. `--quick` is the seconds-long smoke mode CI runs; its numbers
//! are not worth quoting. `--json` prints an array of results (fields in `stats::JsonRow`).

mod channel;
#[cfg(all(target_os = "linux", feature = "iceoryx2"))]
mod iceoryx;
mod segment;
mod stats;
mod sync;

use std::process::{Command, ExitCode};
use std::sync::OnceLock;

/// The arguments that make this program (`current_exe`) run a benchmark's child side:
/// `--child` for `shmkit-bench`, `bench-child` for `shmkit`.
static CHILD_PREFIX: OnceLock<Vec<String>> = OnceLock::new();

/// A command that starts this program as a benchmark child; add the role and its arguments.
pub(crate) fn child_command() -> Command {
    let mut c = Command::new(std::env::current_exe().expect("current_exe"));
    c.args(CHILD_PREFIX.get().map_or(&[][..], Vec::as_slice));
    c
}

/// Runs the child side `role` of a cross-process benchmark (what [`run`] started).
pub fn child(role: &str, args: &[String]) -> ExitCode {
    sync::child(role, args);
    ExitCode::SUCCESS
}

/// The benchmarks' names and flags, for usage messages.
pub const USAGE: &str =
    "usage: shmkit-bench [segment] [sync] [latency] [throughput] [--quick] [--json]";

/// Runs the benchmarks named in `args` (all if none) with `--quick` / `--json`, printing the
/// tables; `child_prefix` is how this program is told to run a child side (see [`child`]).
pub fn run(args: &[String], child_prefix: &[&str]) -> ExitCode {
    let _ = CHILD_PREFIX.set(child_prefix.iter().map(|s| s.to_string()).collect());
    let quick = args.iter().any(|a| a == "--quick");
    let json = args.iter().any(|a| a == "--json");
    let mut benches: Vec<&str> = Vec::new();
    for a in args {
        match a.as_str() {
            "--quick" | "--json" => {}
            "segment" | "sync" | "latency" | "throughput" | "broadcast" => benches.push(a),
            _ => {
                eprintln!("{USAGE}\nunknown argument {a:?}");
                return ExitCode::from(2);
            }
        }
    }
    if benches.is_empty() {
        benches = vec!["segment", "sync", "latency", "throughput", "broadcast"];
    }
    let mut rows = Vec::new();
    for b in benches {
        match b {
            "segment" => {
                let (rounds, per_round) = if quick { (2, 20) } else { (20, 200) };
                rows.extend(segment::run(rounds, per_round));
            }
            "latency" => rows.extend(channel::latency(quick)),
            "throughput" => rows.extend(channel::throughput(quick)),
            "broadcast" => rows.extend(channel::broadcast_table(quick)),
            _ => {
                let plan = if quick {
                    sync::Plan {
                        batches: 10,
                        per_batch: 100,
                    }
                } else {
                    sync::Plan {
                        batches: 100,
                        per_batch: 500,
                    }
                };
                let rounds = if quick { 1 } else { 3 };
                rows.extend(sync::pingpong(&plan, rounds));
                rows.extend(sync::lock(&plan));
            }
        }
    }
    if json {
        let items: Vec<stats::JsonRow> = rows.iter().map(Into::into).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&items).expect("serialise")
        );
    } else {
        if sync::pin(0) {
            println!("ping-pong: parent pinned to CPU 0, child to CPU 1");
        }
        stats::print(
            &rows,
            &[
                (segment::BENCH, segment::TITLE),
                (sync::PINGPONG, sync::PINGPONG_TITLE),
                (sync::LOCK, sync::LOCK_TITLE),
                (channel::LAT_BUSY, channel::LAT_BUSY_TITLE),
                (channel::LAT_BLOCK, channel::LAT_BLOCK_TITLE),
                channel::TPUT_TITLES[0],
                channel::TPUT_TITLES[1],
                (channel::BCAST, channel::BCAST_TITLE),
            ],
        );
    }
    ExitCode::SUCCESS
}
