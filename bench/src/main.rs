//! `shmkit-bench`: the benchmark harness as a program of its own (see the library's docs).
//!
//! ```text
//! cargo run --release -p shmkit-bench -- [segment] [sync] [latency] [throughput] [broadcast] [sweep] [service] [waitset] [async] [zenoh] [--quick] [--json]
//! cargo run --release -p shmkit-bench -- plot IN.json OUT_DIR
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(shmkit_bench::CHILD_FLAG) {
        let Some(role) = args.get(1) else {
            eprintln!("{}", shmkit_bench::USAGE);
            return ExitCode::from(2);
        };
        return shmkit_bench::child(role, &args[2..]);
    }
    shmkit_bench::run(&args)
}
