//! Standard output that a closed pipe cannot crash.
//!
//! Rust ignores SIGPIPE, so a write to a pipe whose reader has gone (`shmkit ls | head -1`)
//! fails with `EPIPE` (`ErrorKind::BrokenPipe`), and `println!` panics on that. Every command
//! prints through here instead:
//!
//! * [`outln!`] returns the error, for `?`; `main` ends quietly with status 0 on a closed pipe.
//!   For commands whose only work is their output (`read`, `info`, `ls`, `watch`, ...).
//! * [`Narrator`] is for commands that change things (`rm`, `gc`, `create`, `demo`): their
//!   work must not stop halfway because nobody reads what they say about it.

use std::fmt;
use std::io::{self, Write};

/// `println!` that returns an [`io::Error`] instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// `eprintln!` that ignores a failed write (there is nowhere left to report it) instead of
/// panicking: `shmkit rm a b 2>&1 | head -1` must still remove both names.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use errln;

/// Writes `args` to standard output.
pub fn print(args: fmt::Arguments<'_>) -> io::Result<()> {
    io::stdout().lock().write_fmt(args)
}

/// Writes `bytes` to standard output and flushes.
pub fn write_all(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// What a command that changes things says on standard output.
///
/// The first failed write ends the output, not the command: later lines are dropped, and
/// [`finish`](Narrator::finish) reports the failure at the end unless it was a closed pipe.
#[derive(Debug, Default)]
pub struct Narrator {
    failed: Option<io::Error>,
}

impl Narrator {
    /// Prints one line, unless an earlier line could not be written.
    pub fn say(&mut self, args: fmt::Arguments<'_>) {
        if self.failed.is_none() {
            self.failed = print(format_args!("{args}\n")).err();
        }
    }

    /// Ok if every line was written or the reader went away; otherwise the write error.
    pub fn finish(self) -> io::Result<()> {
        match self.failed {
            Some(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

/// `narrator.say(format_args!(...))`.
macro_rules! say {
    ($n:expr, $($arg:tt)*) => {
        $n.say(format_args!($($arg)*))
    };
}
pub(crate) use say;
