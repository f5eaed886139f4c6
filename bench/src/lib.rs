//! shmkit's benchmark harness (unpublished): every baseline runs in the same process run, so
//! the results are ratios that mean something on a noisy shared machine. Used by the
//! `shmkit-bench` binary, which `shmkit bench` runs.
//!
//! ```text
//! cargo run --release -p shmkit-bench -- [segment] [sync] [--quick] [--json]
//! ```
//!
//! With no bench named, all run. `--quick` is the seconds-long smoke mode CI runs; its numbers
//! are not worth quoting. `--json` prints an array of results (fields in `stats::JsonRow`).

mod aio;
#[cfg(all(target_os = "linux", feature = "zenoh"))]
mod bridge;
mod broadcast;
mod capi;
mod channel;
mod growth;
#[cfg(all(target_os = "linux", feature = "iceoryx2"))]
mod iceoryx;
#[cfg(target_os = "linux")]
mod liveness;
mod plot;
mod segment;
mod service;
mod stats;
mod sweep;
mod sync;
mod throughput;
mod typed;
mod waitset;
#[cfg(all(target_os = "linux", feature = "zenoh"))]
mod zenoh;

use std::io::{self, Write};
use std::process::{Command, ExitCode};

/// The first argument that makes this program run a benchmark's child side (see [`child`]).
pub const CHILD_FLAG: &str = "--child";

/// A command that starts this program as a benchmark child; add the role and its arguments.
pub(crate) fn child_command() -> Command {
    let mut c = Command::new(std::env::current_exe().expect("current_exe"));
    c.arg(CHILD_FLAG);
    c
}

/// Runs the child side `role` of a cross-process benchmark (what [`run`] started with
/// [`CHILD_FLAG`] `role` ...).
pub fn child(role: &str, args: &[String]) -> ExitCode {
    #[cfg(all(target_os = "linux", feature = "zenoh"))]
    if zenoh::child(role, args) || bridge::child(role, args) {
        return ExitCode::SUCCESS;
    }
    sync::child(role, args);
    ExitCode::SUCCESS
}

/// The benchmarks' names and flags, for usage messages.
pub const USAGE: &str =
    "usage: shmkit-bench plot IN.json OUT_DIR | shmkit-bench [segment] [sync] [latency] [throughput] [broadcast] [sweep] [service] [waitset] [growth] [async] [capi] [zenoh] [--quick] [--json]";

/// Runs the benchmarks named in `args` (all if none) with `--quick` / `--json`, printing the
/// tables. A closed standard output (`| head`) ends the program quietly.
pub fn run(args: &[String]) -> ExitCode {
    if args.first().map(String::as_str) == Some("plot") {
        let [_, input, out] = args else {
            eprintln!("usage: shmkit-bench plot IN.json OUT_DIR");
            return ExitCode::from(2);
        };
        return match plot::run(input.as_ref(), out.as_ref()) {
            Ok(files) => {
                for f in files {
                    println!("{f}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("shmkit-bench plot: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let quick = args.iter().any(|a| a == "--quick");
    let json = args.iter().any(|a| a == "--json");
    let mut benches: Vec<&str> = Vec::new();
    for a in args {
        match a.as_str() {
            "--quick" | "--json" => {}
            "segment" | "sync" | "latency" | "throughput" | "broadcast" | "sweep" | "service"
            | "waitset" | "growth" | "async" | "capi" | "zenoh" => benches.push(a),
            _ => {
                eprintln!("{USAGE}\nunknown argument {a:?}");
                return ExitCode::from(2);
            }
        }
    }
    if benches.is_empty() {
        benches = vec![
            "segment",
            "sync",
            "latency",
            "throughput",
            "broadcast",
            "sweep",
            "service",
            "waitset",
            "growth",
            "async",
            "capi",
            "zenoh",
        ];
    }
    let mut rows = Vec::new();
    for b in benches {
        match b {
            "segment" => {
                let (rounds, per_round) = if quick { (2, 20) } else { (20, 200) };
                rows.extend(segment::run(rounds, per_round));
            }
            "latency" => rows.extend(channel::latency(quick)),
            "sweep" => rows.extend(sweep::run(quick)),
            "throughput" => rows.extend(throughput::throughput(quick)),
            "service" => rows.extend(service::table(quick)),
            "waitset" => rows.extend(waitset::run(quick)),
            "growth" => rows.extend(growth::run(quick)),
            "async" => rows.extend(aio::run(quick)),
            "capi" => rows.extend(capi::run(quick)),
            // Without the feature (or off Linux) the Zenoh tables are simply absent.
            "zenoh" => {
                #[cfg(all(target_os = "linux", feature = "zenoh"))]
                rows.extend(zenoh::run(quick));
            }
            "broadcast" => {
                rows.extend(broadcast::broadcast_table(quick));
                rows.extend(broadcast::broadcast_1mib_table(quick));
            }
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
                #[cfg(target_os = "linux")]
                rows.extend(liveness::run(quick));
            }
        }
    }
    match print(&rows, json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shmkit-bench: writing the results: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the results as tables or JSON; unlike `println!`, a closed pipe is an error, not a
/// panic.
fn print(rows: &[stats::Row], json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let items: Vec<stats::JsonRow> = rows.iter().map(Into::into).collect();
        serde_json::to_writer_pretty(&mut out, &items)?;
        writeln!(out)?;
    } else {
        if sync::pin(0) {
            writeln!(out, "ping-pong: parent pinned to CPU 0, child to CPU 1")?;
        }
        stats::print(
            &mut out,
            rows,
            &[
                (segment::BENCH, segment::TITLE),
                (sync::PINGPONG, sync::PINGPONG_TITLE),
                (sync::LOCK, sync::LOCK_TITLE),
                #[cfg(target_os = "linux")]
                (liveness::BENCH, liveness::TITLE),
                (channel::LAT_BUSY, channel::LAT_BUSY_TITLE),
                (channel::LAT_BLOCK, channel::LAT_BLOCK_TITLE),
                throughput::TPUT_TITLES[0],
                throughput::TPUT_TITLES[1],
                (broadcast::BCAST, broadcast::BCAST_TITLE),
                (broadcast::BCAST_1MIB, broadcast::BCAST_1MIB_TITLE),
                (sweep::BENCH, sweep::TITLE),
                (service::BENCH, service::TITLE),
                (waitset::BENCH, waitset::TITLE),
                (growth::BENCH, growth::TITLE),
                (aio::BENCH, aio::TITLE),
                (capi::BENCH, capi::TITLE),
                #[cfg(all(target_os = "linux", feature = "zenoh"))]
                zenoh::TITLES[0],
                #[cfg(all(target_os = "linux", feature = "zenoh"))]
                zenoh::TITLES[1],
                #[cfg(all(target_os = "linux", feature = "zenoh"))]
                zenoh::TITLES[2],
            ],
        )?;
    }
    out.flush()
}
