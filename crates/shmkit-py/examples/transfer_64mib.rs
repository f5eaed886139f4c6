//! The Rust-API twin of the 64 MiB transfer in `python -m shmkit.bench`: a producer fills a
//! loan with a 64 MiB `f32` array (one `memcpy`), a consumer in another process receives it
//! in place and checks its first and last element. Prints the seconds per array.
//!
//! ```text
//! cargo build --release -p shmkit-py --examples
//! python -m shmkit.bench --rust target/release/examples
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use shmkit::channel;

#[path = "common/pin.rs"]
mod pin;

const ELEMS: usize = 16 << 20;
const LEN: usize = ELEMS * 4;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn element(bytes: &[u8], i: usize) -> f32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[i * 4..i * 4 + 4]);
    f32::from_ne_bytes(word)
}

fn receiver(name: &str, n: usize) -> Result<()> {
    pin::pin(1);
    let mut rx = channel::open_consumer(name)?;
    println!("ready");
    for _ in 0..n {
        let s = rx.recv()?;
        if element(&s, 0) != 0.0 || element(&s, ELEMS - 1) != (ELEMS - 1) as f32 {
            return Err("the received array is wrong".into());
        }
    }
    println!("done");
    Ok(())
}

fn sender(n: usize) -> Result<f64> {
    pin::pin(0);
    let name = format!("bench-rust-{}", std::process::id());
    let src: Vec<u8> = (0..ELEMS).flat_map(|i| (i as f32).to_ne_bytes()).collect();
    let mut tx = channel::create_producer(&name, 4 * LEN)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--receiver", &name, &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    if lines.next().transpose()?.as_deref() != Some("ready") {
        return Err("the receiver did not start".into());
    }
    let t0 = Instant::now();
    for _ in 0..n {
        let mut loan = tx.loan(LEN)?;
        loan.copy_from_slice(&src);
        loan.commit();
    }
    if lines.next().transpose()?.as_deref() != Some("done") {
        return Err("the receiver failed".into());
    }
    let per = t0.elapsed().as_secs_f64() / n as f64;
    child.wait()?;
    Ok(per)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = || -> Result<()> {
        match args.as_slice() {
            [flag, name, n] if flag == "--receiver" => receiver(name, n.parse()?),
            [n] => {
                println!("{} s/array", sender(n.parse()?)?);
                Ok(())
            }
            [] => {
                println!("{} s/array", sender(10)?);
                Ok(())
            }
            _ => Err("usage: transfer_64mib [ARRAYS]".into()),
        }
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transfer_64mib: {e}");
            ExitCode::FAILURE
        }
    }
}
