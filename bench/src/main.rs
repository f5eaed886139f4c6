//! shmkit's benchmark harness (unpublished): every baseline runs in the same process run, so
//! the results are ratios that mean something on a noisy shared machine.
//!
//! ```text
//! cargo run --release -p shmkit-bench -- [segment] [--quick] [--json]
//! ```
//!
//! `--quick` is the seconds-long smoke mode CI runs; its numbers are not worth quoting.

mod segment;
mod stats;

use std::process::ExitCode;

/// One result in `--json` output; the field names are stable.
#[derive(serde::Serialize)]
struct JsonRow {
    bench: &'static str,
    variant: &'static str,
    median_ns: u64,
    p99_ns: u64,
    samples: usize,
    /// The variant this one is compared to, if any.
    baseline: Option<&'static str>,
    /// Median over the baseline's median.
    ratio: Option<f64>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json = args.iter().any(|a| a == "--json");
    for a in &args {
        if !matches!(a.as_str(), "--quick" | "--json" | "segment") {
            eprintln!("usage: shmkit-bench [segment] [--quick] [--json]\nunknown argument {a:?}");
            return ExitCode::from(2);
        }
    }
    let (rounds, per_round) = if quick { (2, 20) } else { (20, 200) };
    let rows = segment::run(rounds, per_round);
    if json {
        let items: Vec<JsonRow> = rows
            .iter()
            .map(|r| JsonRow {
                bench: "segment_lifecycle_1MiB",
                variant: r.label,
                median_ns: r.summary.median.as_nanos() as u64,
                p99_ns: r.summary.p99.as_nanos() as u64,
                samples: r.summary.samples,
                baseline: r.baseline.as_ref().map(|(l, _)| *l),
                ratio: r.baseline.as_ref().map(|(_, b)| r.summary.ratio(b)),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&items).expect("serialise")
        );
    } else {
        segment::print(&rows);
    }
    ExitCode::SUCCESS
}
