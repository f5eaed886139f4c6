//! The command line, as clap types.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::units::{parse_duration, parse_mode, parse_size, parse_wait};

/// Shared memory from the shell: segments (create, read, write, watch), topics (publish,
/// subscribe, hz, bw, record, replay), services (call, serve), and what is on the machine
/// (ls, info, top, gc).
///
/// Names are plain tokens (no `/`, `\` or NUL; at most 253 bytes, 30 on macOS). On Linux and
/// macOS `foo` is the POSIX object `/foo` (on Linux the file `/dev/shm/foo`), the same one
/// Python's `SharedMemory("foo")` and C's `shm_open("/foo")` open; on Windows it is the named
/// file mapping `foo`.
///
/// Sizes take a suffix: K, M, G, T (and KiB, MiB, GiB, TiB) are powers of 1024; KB, MB, GB, TB
/// are powers of 1000; no suffix means bytes.
///
/// Every command that opens an existing object takes --wait[=DURATION]: wait for it to appear
/// (up to DURATION, or without a value until it does), so two commands can start in either
/// order. Without --wait a missing object fails at once (but `send`, which waits 10 s).
///
/// Exit status: 0 success, 1 the operation failed, 2 the command line was wrong.
#[derive(Debug, Parser)]
#[command(name = "shmkit", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a segment of SIZE zero bytes (mode 0600 unless --mode).
    ///
    /// Without --keep the segment lives while this command runs and is removed when it is
    /// ended by Ctrl-C, SIGTERM or SIGHUP; with --keep it is left in place and the command returns at once
    /// (Unix; remove it with `shmkit rm`). Windows frees a segment with the last process that
    /// has it open, so there --keep cannot outlive this command and is refused.
    Create {
        /// The segment's name.
        name: String,
        /// Its size, e.g. 4096, 4KiB, 1MiB, 2G.
        #[arg(long, value_parser = parse_size)]
        size: u64,
        /// Unix permission bits, in octal (e.g. 600, 640, 666).
        #[arg(long, value_parser = parse_mode, default_value = "600")]
        mode: u32,
        /// Leave the segment in place and return at once.
        #[arg(long)]
        keep: bool,
    },
    /// Copy bytes into a segment (nothing is written if they do not fit).
    Write {
        /// The segment's name.
        name: String,
        #[command(flatten)]
        wait: OpenWait,
        /// Where to start writing.
        #[arg(long, default_value = "0", value_parser = parse_size)]
        offset: u64,
        /// Write this text.
        #[arg(long, conflicts_with_all = ["file", "stdin"])]
        text: Option<String>,
        /// Write the contents of this file.
        #[arg(long, conflicts_with = "stdin")]
        file: Option<PathBuf>,
        /// `-`: write what arrives on standard input.
        #[arg(value_name = "-", value_parser = parse_dash)]
        stdin: Option<bool>,
    },
    /// Copy bytes out of a segment, raw (default) or as an xxd-style hex dump.
    Read {
        /// The segment's name.
        name: String,
        #[command(flatten)]
        wait: OpenWait,
        /// Where to start reading.
        #[arg(long, default_value = "0", value_parser = parse_size)]
        offset: u64,
        /// How many bytes (default: to the end).
        #[arg(long, value_parser = parse_size)]
        len: Option<u64>,
        /// Print an xxd-style hex dump instead of the raw bytes.
        #[arg(long)]
        hex: bool,
    },
    /// Show what a segment is: size, kind, owner, mode, creator, who has it open, and an
    /// object's shape and counters (slots, subscribers and their lag, messages sent, ...).
    Info {
        /// The segment's name.
        name: String,
        #[command(flatten)]
        wait: OpenWait,
        /// Print JSON (fields documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// List the segments on this machine.
    ///
    /// Linux lists /dev/shm: every POSIX segment of every user. Windows cannot enumerate
    /// named file mappings, so there it lists the segments shmkit created that still exist.
    /// macOS offers no way to enumerate shared memory; there this command says so and fails.
    Ls {
        /// Print JSON: `{"schema": 1, "segments": [...]}`, each entry with the fields `info
        /// --json` prints (less `schema`).
        #[arg(long)]
        json: bool,
        /// Also list what is not a usable segment name, like glibc's `sem.*` semaphores.
        #[arg(long)]
        all: bool,
    },
    /// Remove segment names (mappings that are open stay valid until unmapped).
    Rm {
        /// The names to remove.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove shmkit objects (channels, broadcasts, services, mutexes, …) that no process has
    /// open.
    ///
    /// Whether a process has an object open is asked of the kernel (open-file-description
    /// locks on Linux), never judged by a pid, so it holds across pid namespaces and pid reuse
    /// (the library's docs, "Liveness"). Each object is tested and removed in one step: one opened
    /// meanwhile is kept. Never touches raw segments, segments made by other programs, or
    /// objects of another layout version. A process that maps an object's bytes as a raw
    /// segment (as `shmkit read` and `watch` do) does not count as having it open. Windows
    /// frees an object with its last handle, so there everything that exists is in use; macOS
    /// cannot tell, and there gc removes nothing.
    Gc {
        /// Say what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A live table of the machine's shmkit objects: messages/s, bytes/s, subscribers or
    /// clients, lag and holders, refreshed every --interval until Ctrl-C (like `top`).
    ///
    /// The rates come from the counters each object keeps in its own memory, so `top` joins
    /// nothing and disturbs nobody. LAG is a broadcast's slowest subscriber (messages it has
    /// not read), a channel's messages sent and not received, a service's queued requests.
    /// Off a terminal each refresh prints one table and a blank line; --json prints one JSON
    /// object per refresh: `{"schema": 1, "time": SECONDS, "objects": [...]}`, each object
    /// with `messages_per_s` and `bytes_per_s` and the fields of `info --json`. The first
    /// table comes one interval after start, so that it has rates (an object that appears
    /// later shows `-`, JSON null, until its second look).
    Top {
        /// Time between refreshes, e.g. 500ms, 2s.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        interval: Duration,
        /// Stop after this many refreshes.
        #[arg(long)]
        count: Option<u64>,
        /// Print one JSON object per refresh.
        #[arg(long)]
        json: bool,
        /// Also list raw segments.
        #[arg(long)]
        all: bool,
    },
    /// Watch a region of a segment, highlighting bytes as they change, until Ctrl-C (or
    /// SIGTERM, SIGHUP, or the reader of its output going away).
    Watch {
        /// The segment's name.
        name: String,
        #[command(flatten)]
        wait: OpenWait,
        /// Start of the region.
        #[arg(long, default_value = "0", value_parser = parse_size)]
        offset: u64,
        /// Length of the region (default: up to 256 bytes).
        #[arg(long, value_parser = parse_size)]
        len: Option<u64>,
        /// Time between refreshes, e.g. 100ms, 1s.
        #[arg(long, default_value = "100ms", value_parser = parse_duration)]
        interval: std::time::Duration,
        /// Stop after this many refreshes.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Stream a file (or standard input) to `shmkit recv NAME` in another process.
    Send {
        /// The channel's name (created by `shmkit recv`).
        name: String,
        /// The file to send, or `-` for standard input.
        input: PathBuf,
        /// Wait for the channel (made by `shmkit recv NAME`) to appear: up to DURATION, or
        /// without a value until it does. Default 10s, not 0 as for the other commands: `send`
        /// is started together with the `recv` that creates the channel (`shmkit recv x > out
        /// & shmkit send x file`), so it is usually a moment early; --wait=0 fails at once.
        #[arg(
            long,
            value_name = "DURATION",
            num_args = 0..=1,
            require_equals = true,
            default_value = "10s",
            default_missing_value = "forever",
            value_parser = parse_wait
        )]
        wait: Duration,
        /// How this side waits for room in the ring.
        #[arg(long, value_enum, default_value = "adaptive")]
        wait_strategy: WaitStrategyArg,
    },
    /// Receive a stream sent with `shmkit send NAME` (creates the channel and waits).
    ///
    /// Ctrl-C, SIGTERM or SIGHUP before the end of the stream removes the channel and exits
    /// with status 1.
    Recv {
        /// The channel's name.
        name: String,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Ring size.
        #[arg(long, default_value = "8MiB", value_parser = parse_size)]
        capacity: u64,
        /// Unix permission bits of the channel, in octal (e.g. 600, 660).
        #[arg(long, value_parser = parse_mode, default_value = "600")]
        mode: u32,
        /// How this side waits for messages.
        #[arg(long, value_enum, default_value = "adaptive")]
        wait_strategy: WaitStrategyArg,
    },
    /// Print the messages of a broadcast (as a new subscriber: from now on) or a channel (as
    /// its consumer: the messages are taken out, nobody else gets them).
    ///
    /// Raw bytes by default; --format lines, --format hex or --json. A message lost by a
    /// subscriber that fell a whole ring behind (policy overwrite) is said on standard error
    /// (with --json, as a `{"lost": N}` line). Ends with status 0 after --count messages, when
    /// the writer has gone and every message it sent is printed, or on Ctrl-C, SIGTERM or
    /// SIGHUP.
    #[command(visible_alias = "echo")]
    Subscribe(crate::topic::SubscribeArgs),
    /// Send messages to a broadcast or a channel, creating it if absent (with the options
    /// below; default a broadcast) or joining an existing channel as its producer.
    ///
    /// The messages: --text, or a file's contents (one message, sent --count times), or
    /// standard input: one message per line (without its newline), or with
    /// --length-delimited frames of a u32 little-endian length and that many bytes.
    ///
    /// A broadcast has one publisher, the process that created it: publishing to one that
    /// exists is an error. The object publish created is removed when it ends (its readers
    /// still get what was sent, then the end); readers that attach later see nothing of it,
    /// so start them first and give --wait-for-subscribers.
    Publish(Box<crate::topic::PublishArgs>),
    /// Measure a broadcast's message rate and inter-arrival times, as a subscriber of its own
    /// (it takes nothing from anyone), every --interval; like `ros2 topic hz`.
    ///
    /// On a channel (one reader, which takes the messages out) it reads the channel's own
    /// counters instead, joining nothing: the rate per interval, no inter-arrival times.
    Hz(crate::rate::RateArgs),
    /// Measure a broadcast's bandwidth and message sizes, as a subscriber of its own, every
    /// --interval; like `ros2 topic bw`.
    ///
    /// On a channel it reads the channel's own counters instead, joining nothing: bytes/s
    /// and the mean size per interval.
    Bw(crate::rate::RateArgs),
    /// Record channels and broadcasts to an MCAP file (the format of Foxglove, ROS 2 and
    /// eCAL's tools), until Ctrl-C, SIGTERM, SIGHUP, --duration, --count or the end of every
    /// writer; each of these leaves a complete file.
    ///
    /// One MCAP channel per object (topic: its name; messages: its bytes as sent; schema: its
    /// kind and typed layout; metadata: what `shmkit replay` needs to make it again). The
    /// recorder joins a broadcast as one more subscriber; a channel it reads as its consumer:
    /// the messages go to the file, not to another reader. A broadcast that overwrites can
    /// outrun the recorder: what it loses is written to the file as a loss record and said on
    /// stderr. Chunks are flushed to the file every --flush-every (or --chunk-size): a
    /// recorder that is killed (SIGKILL, a crash) loses at most that much, and MCAP's tools
    /// (`mcap recover`, stream readers) read the rest. Progress on a terminal; a summary line
    /// on stderr at the end (with --json on stdout).
    Record(crate::record::RecordArgs),
    /// Play an MCAP file (from `shmkit record`, or another program) into channels and
    /// broadcasts of the same names, at the recorded pace.
    ///
    /// Each recorded object is created again with its kind, options and typed layout, so
    /// typed readers open it; a channel of a file from another program becomes a byte
    /// broadcast whose slots fit its largest message. Loss records are skipped and counted.
    /// The objects are removed when the replay ends (subscribers still read what was sent).
    Replay(crate::replay::ReplayArgs),
    /// Send one request to a service and print its response (raw, or --json).
    Call(crate::service_cmd::CallArgs),
    /// Serve a service: answer each request by running CMD with the request on its standard
    /// input; its standard output is the response (`shmkit serve NAME -- tr a-z A-Z`).
    ///
    /// A CMD that fails or prints more than --max-response-len is reported on standard error
    /// and answered with an empty response. Runs until Ctrl-C, SIGTERM or SIGHUP (or --count
    /// requests), then removes the service.
    Serve(crate::service_cmd::ServeArgs),
    /// Run the cross-process benchmark tables: shmkit against raw OS calls, pipes, sockets and
    /// TCP, as ratios measured in the same run (about a minute; --quick takes seconds).
    ///
    /// The benchmarks are a separate program, `shmkit-bench`, looked for next to shmkit and
    /// then on PATH: from a clone of the repository, `cargo install --path bench` installs it
    /// (or run `cargo run --release -p shmkit-bench -- ARGS` directly).
    Bench {
        /// A seconds-long smoke run; its numbers are not worth quoting.
        #[arg(long)]
        quick: bool,
        /// Print JSON: an array of {bench, variant, median_ns, p99_ns, samples, baseline,
        /// ratio, bytes, gib_per_s}.
        #[arg(long)]
        json: bool,
        /// Which tables (default all): segment, sync, latency, throughput, broadcast, service,
        /// waitset.
        #[arg(value_parser = ["segment", "sync", "latency", "throughput", "broadcast", "service", "waitset"])]
        tables: Vec<String>,
    },
    /// Forward channels, broadcasts and services to and from Zenoh, across machines.
    ///
    /// Each bridge runs until Ctrl-C, SIGTERM or SIGHUP and reports what it did every
    /// --stats-every (on stderr; with --json as JSON lines on stdout). The Zenoh options are
    /// Zenoh's own (-m, -e, -l, -c, as in Zenoh's tools).
    #[cfg(feature = "bridge")]
    Bridge(Box<crate::bridge::Args>),
    /// Forward channels, broadcasts and services to and from Zenoh, across machines: runs
    /// the separate program `shmkit-bridge` (this `shmkit` was built without Zenoh), with
    /// these arguments; `shmkit bridge --help` shows its options.
    #[cfg(not(feature = "bridge"))]
    #[command(disable_help_flag = true)]
    Bridge {
        /// `shmkit-bridge`'s arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// The classic two-process scenario, narrated: a server creates a segment and writes a
    /// message, a client process reads it by name and replies.
    Demo {
        /// The segment's name.
        #[arg(long, default_value = "MySharedMem")]
        name: String,
    },
    /// The client half of `demo` (started by it).
    #[command(hide = true)]
    DemoClient { name: String },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `--wait[=DURATION]`: how long a command waits for the object it opens to appear.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct OpenWait {
    /// Wait for NAME to appear: up to DURATION (e.g. 500ms, 10s), or without a value until it
    /// does. Without --wait, a missing NAME fails at once.
    #[arg(
        long = "wait",
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "forever",
        value_parser = parse_wait
    )]
    wait: Option<Duration>,
}

impl OpenWait {
    /// The library's `open_timeout`: zero without --wait, `Duration::MAX` for --wait alone.
    pub fn open_timeout(self) -> Duration {
        self.wait.unwrap_or(Duration::ZERO)
    }
}

/// `--wait-strategy`: the library's `WaitStrategy`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WaitStrategyArg {
    /// Spin briefly, then sleep (the default).
    Adaptive,
    /// Sleep at once: least CPU, when the processes may share a CPU.
    Blocking,
    /// Never sleep: lowest latency, a CPU busy all the time.
    BusyPoll,
}

impl From<WaitStrategyArg> for shmkit::channel::WaitStrategy {
    fn from(w: WaitStrategyArg) -> Self {
        match w {
            WaitStrategyArg::Adaptive => Self::Adaptive,
            WaitStrategyArg::Blocking => Self::Blocking,
            WaitStrategyArg::BusyPoll => Self::BusyPoll,
        }
    }
}

fn parse_dash(s: &str) -> Result<bool, String> {
    if s == "-" {
        Ok(true)
    } else {
        Err(format!(
            "expected `-` for standard input, got {s:?} (use --file for files)"
        ))
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks (e.g. two arguments of one name, which only fail when
    /// parsed otherwise).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
