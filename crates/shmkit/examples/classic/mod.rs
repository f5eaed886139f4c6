//! The classic two-process shared-memory scenario, shared by the `server`, `client` and `demo`
//! examples.
//!
//! Layout of the 4096-byte segment (raw bytes, as a C program would see them):
//!
//! | offset | what                                                         |
//! |--------|--------------------------------------------------------------|
//! | 0      | the server's message, NUL-terminated                         |
//! | 2040   | `u32` message flag: 0 = not yet, 1 = message written         |
//! | 2048   | `u32` reply flag: 0 = no reply yet, 1 = reply written        |
//! | 2052   | the client's reply, NUL-terminated                           |
//!
//! The message is *copied* into the segment: a pointer would mean nothing in another process.

use std::error::Error;
use std::sync::atomic::Ordering;
use std::thread::sleep;
use std::time::{Duration, Instant};

use shmkit::{Access, Segment, View};

/// The name the classic Win32 sample uses.
pub const NAME: &str = "MySharedMem";
pub const SIZE: usize = 4096;
const MESSAGE_FLAG: usize = 2040;
const REPLY_FLAG: usize = 2048;
const REPLY: usize = 2052;
const POLL: Duration = Duration::from_millis(5);

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Reads a NUL-terminated string of at most `max` bytes at `offset`.
fn read_cstr(view: &View, offset: usize, max: usize) -> Result<String> {
    let bytes = view.read_vec(offset, max)?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

/// Polls the `u32` flag at `offset` (Acquire) until it is non-zero or `timeout` passes.
fn wait_for_flag(view: &View, offset: usize, timeout: Duration, what: &str) -> Result<()> {
    let flag = view.atomic_u32(offset)?;
    let start = Instant::now();
    while flag.load(Ordering::Acquire) == 0 {
        if start.elapsed() > timeout {
            return Err(format!("no sign of {what} within {timeout:?}").into());
        }
        sleep(POLL);
    }
    Ok(())
}

/// Creates the segment, copies `message` in, waits for the client's reply, and returns it.
/// Dropping the segment at the end removes the name.
pub fn server(name: &str, message: &str, timeout: Duration) -> Result<String> {
    let seg = Segment::create(name, SIZE)?;
    println!("server: created segment {name:?} ({} bytes)", seg.len());
    let mut view = seg.map(Access::ReadWrite)?;
    let mut bytes = message.as_bytes().to_vec();
    bytes.push(0);
    view.write_at(0, &bytes)?;
    // SYNC POINT: this Release store pairs with the client's Acquire load of the message flag.
    view.atomic_u32(MESSAGE_FLAG)?.store(1, Ordering::Release);
    println!("server: copied the message into it: {message:?}");
    println!("server: waiting for a client to reply...");

    // SYNC POINT: the Acquire load pairs with the client's Release store of the reply flag, so
    // the reply bytes written before that store are visible to the read below.
    wait_for_flag(&view, REPLY_FLAG, timeout, "a reply")?;
    let reply = read_cstr(&view, REPLY, SIZE - REPLY)?;
    println!("server: the client replied: {reply:?}");
    drop(view);
    drop(seg);
    match Segment::open(name) {
        Err(shmkit::Error::NotFound { .. }) => println!("server: unmapped and removed {name:?}"),
        Ok(_) if cfg!(windows) => {
            println!("server: unmapped; Windows frees {name:?} with its last handle")
        }
        other => println!("server: unexpected state after removal: {other:?}"),
    }
    Ok(reply)
}

/// Opens the segment by name (waiting up to `timeout` for the server to create it), prints the
/// message, and writes `reply`.
pub fn client(name: &str, reply: &str, timeout: Duration) -> Result<String> {
    let start = Instant::now();
    let seg = loop {
        match Segment::open(name) {
            Ok(seg) => break seg,
            Err(shmkit::Error::NotFound { .. }) if start.elapsed() < timeout => sleep(POLL),
            Err(e) => return Err(e.into()),
        }
    };
    println!(
        "client: opened segment {name:?} by name ({} bytes)",
        seg.len()
    );
    let mut view = seg.map(Access::ReadWrite)?;
    // The name exists before the message is copied in, so a fast client waits for the flag.
    // SYNC POINT: Acquire, paired with the server's Release store of the message flag.
    wait_for_flag(&view, MESSAGE_FLAG, timeout, "the message")?;
    let message = read_cstr(&view, 0, MESSAGE_FLAG)?;
    println!("client: read the server's message: {message:?}");
    let mut bytes = reply.as_bytes().to_vec();
    bytes.truncate(SIZE - REPLY - 1);
    bytes.push(0);
    view.write_at(REPLY, &bytes)?;
    // SYNC POINT: this Release store pairs with the server's Acquire load of the flag.
    view.atomic_u32(REPLY_FLAG)?.store(1, Ordering::Release);
    println!("client: wrote the reply {reply:?} and raised the flag");
    Ok(message)
}
