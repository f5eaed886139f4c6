//! shmkit's benchmark harness (unpublished): every baseline runs in the same process run, so
//! the results are ratios that mean something on a noisy shared machine.
//!
//! ```text
//! cargo run --release -p shmkit-bench -- [segment] [sync] [--quick] [--json]
//! ```
//!
//! With no bench named, all run. `--quick` is the seconds-long smoke mode CI runs; its numbers
//! are not worth quoting. `--json` prints an array of results (fields in `stats::JsonRow`).

mod channel;
mod segment;
mod stats;
mod sync;

use std::process::ExitCode;

const USAGE: &str =
    "usage: shmkit-bench [segment] [sync] [latency] [throughput] [--quick] [--json]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let Some(role) = args.get(1) else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        sync::child(role, &args[2..]);
        return ExitCode::SUCCESS;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let json = args.iter().any(|a| a == "--json");
    let mut benches: Vec<&str> = Vec::new();
    for a in &args {
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
