//! `shmkit bridge`: the bridges of `shmkit-zenoh` as commands, with their stats.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args as ClapArgs, Subcommand, ValueEnum};
use serde::Serialize;
use shmkit::channel::MessageLayout;
use shmkit_zenoh::{
    Bridge, Congestion, ExportOptions, ImportOptions, ServiceOptions, SessionConfig, Source, Stats,
};

use crate::out::{errln, outln};
use crate::stop::Stop;
use crate::units::{human, parse_duration, parse_layout, parse_mode, parse_size};

/// `shmkit bridge ...`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    what: What,
    #[command(flatten)]
    zenoh: ZenohArgs,
    /// Report the counters this often (0s: only when stopping).
    #[arg(long, global = true, default_value = "1s", value_parser = parse_duration)]
    stats_every: Duration,
    /// Report as JSON lines on stdout (fields: bridge, key, local, elapsed_s, messages,
    /// bytes, dropped, lost, refused, reconnects, local_restarts, messages_per_s,
    /// bytes_per_s, last_error, final).
    #[arg(long, global = true)]
    json: bool,
}

/// Zenoh's own session options, as its example programs spell them.
#[derive(Debug, ClapArgs)]
struct ZenohArgs {
    /// Zenoh mode: peer or client (`-m` as in Zenoh's programs; the long form is not
    /// `--mode`, which in shmkit always means permission bits).
    #[arg(short = 'm', long = "zenoh-mode", global = true, value_parser = ["peer", "client"])]
    zenoh_mode: Option<String>,
    /// Endpoint to connect to, e.g. tcp/10.0.0.2:7447 (repeat for several).
    #[arg(short = 'e', long, global = true)]
    connect: Vec<String>,
    /// Endpoint to listen on, e.g. tcp/0.0.0.0:7447 (repeat for several).
    #[arg(short, long, global = true)]
    listen: Vec<String>,
    /// A Zenoh configuration file (JSON5); the options above override it.
    #[arg(short, long, global = true)]
    config: Option<std::path::PathBuf>,
    /// Do not look for peers by multicast (only --connect endpoints).
    #[arg(long, global = true)]
    no_multicast_scouting: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CongestionArg {
    /// Reliable: back-pressure, resend after reconnects, nothing lost.
    Block,
    /// Never wait: drop, and count every message dropped or lost.
    Drop,
}

impl From<CongestionArg> for Congestion {
    fn from(c: CongestionArg) -> Congestion {
        match c {
            CongestionArg::Block => Congestion::Block,
            CongestionArg::Drop => Congestion::Drop,
        }
    }
}

#[derive(Debug, Subcommand)]
enum What {
    /// Put every message of a local broadcast (or, with --channel, SPSC channel) on a Zenoh key.
    Export {
        /// The local broadcast (or channel) to forward.
        name: String,
        /// The Zenoh key to put on (no wildcards).
        #[arg(long)]
        key: String,
        /// NAME is an SPSC channel: this bridge is its consumer.
        #[arg(long)]
        channel: bool,
        /// block: keep messages until importers acknowledge them; drop: never wait.
        #[arg(long, value_enum, default_value = "block")]
        congestion: CongestionArg,
        /// Block: most messages not yet acknowledged.
        #[arg(long, default_value = "1024")]
        window: usize,
        /// Block: most bytes not yet acknowledged.
        #[arg(long, default_value = "64MiB", value_parser = parse_size)]
        window_bytes: u64,
        /// Refuse (count, skip) local messages larger than this.
        #[arg(long, value_parser = parse_size)]
        max_message: Option<u64>,
        /// Send each message at once (Zenoh express: lower latency, lower throughput).
        #[arg(long)]
        express: bool,
        /// Block: stop keeping messages for an importer silent this long.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        forget_after: Duration,
    },
    /// Publish every sample arriving on a Zenoh key expression into a local broadcast.
    Import {
        /// The Zenoh key expression (wildcards allowed).
        key: String,
        /// The local broadcast to create and publish into.
        #[arg(long = "into")]
        name: String,
        /// block: back-pressure, resume after restarts; drop: never wait, count drops.
        #[arg(long, value_enum, default_value = "block")]
        congestion: CongestionArg,
        /// Slots of the local broadcast.
        #[arg(long, default_value = "64")]
        slots: usize,
        /// Largest message (the broadcast's slot size); larger samples are refused.
        #[arg(long, default_value = "64KiB", value_parser = parse_size)]
        max_message: u64,
        /// Most local subscribers.
        #[arg(long, default_value = "16")]
        max_subscribers: usize,
        /// Local subscribers needed before taking messages (default: 1 for block, 0 for drop).
        #[arg(long)]
        min_subscribers: Option<usize>,
        /// Typed messages: SIZE:ALIGN[:TAG] as the typed channel records it; other layouts
        /// are refused (LayoutMismatch).
        #[arg(long, value_parser = parse_layout)]
        layout: Option<MessageLayout>,
        /// Unix permission bits of the broadcast, in octal (e.g. 600, 660).
        #[arg(long, default_value = "600", value_parser = parse_mode)]
        mode: u32,
        /// Do not keep the state segment NAME.zbridge (a restart then starts afresh).
        #[arg(long)]
        no_resume: bool,
    },
    /// Answer Zenoh queries on a key with a local service server (this is one of its clients).
    Serve {
        /// The local service.
        service: String,
        /// The Zenoh key to answer queries on.
        #[arg(long)]
        key: String,
        /// Give up a request after this long.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Create a local service whose requests are Zenoh queries on a key.
    Offer {
        /// The Zenoh key to query.
        key: String,
        /// The local service to create.
        #[arg(long = "as")]
        service: String,
        /// Give up a request after this long (the client then gets an empty response).
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        timeout: Duration,
        /// Clients the local service admits.
        #[arg(long, default_value = "16")]
        max_clients: u32,
        /// Largest request and response.
        #[arg(long, default_value = "64KiB", value_parser = parse_size)]
        max_len: u64,
    },
}

fn usize_of(n: u64, what: &str) -> Result<usize> {
    usize::try_from(n).with_context(|| format!("{what} too large"))
}

/// One stats report.
#[derive(Debug, Serialize)]
struct Report<'a> {
    bridge: &'a str,
    key: &'a str,
    local: &'a str,
    elapsed_s: f64,
    messages: u64,
    bytes: u64,
    dropped: u64,
    lost: u64,
    refused: u64,
    reconnects: u64,
    local_restarts: u64,
    messages_per_s: f64,
    bytes_per_s: f64,
    last_error: Option<&'a str>,
    #[serde(rename = "final")]
    last: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let z = &args.zenoh;
    let session = SessionConfig {
        file: z.config.clone(),
        mode: z.zenoh_mode.clone(),
        connect: z.connect.clone(),
        listen: z.listen.clone(),
        no_multicast_scouting: z.no_multicast_scouting,
    }
    .open()
    .context("opening the Zenoh session")?;
    let stop = Stop::install()?;
    let (kind, key, local, bridge): (&str, String, String, Bridge) = match args.what {
        What::Export {
            name,
            key,
            channel,
            congestion,
            window,
            window_bytes,
            max_message,
            express,
            forget_after,
        } => {
            let mut o = ExportOptions::default();
            o.congestion(congestion.into())
                .window(window)
                .window_bytes(usize_of(window_bytes, "--window-bytes")?)
                .express(express)
                .forget_after(forget_after);
            if let Some(m) = max_message {
                o.max_message(usize_of(m, "--max-message")?);
            }
            let source = match channel {
                true => Source::channel(&name),
                false => Source::broadcast(&name),
            };
            let b = shmkit_zenoh::export(&session, &key, source, &o)
                .with_context(|| format!("exporting {name:?} to {key:?}"))?;
            ("export", key, name, b)
        }
        What::Import {
            key,
            name,
            congestion,
            slots,
            max_message,
            max_subscribers,
            min_subscribers,
            layout,
            mode,
            no_resume,
        } => {
            let mut o = ImportOptions::default();
            o.congestion(congestion.into())
                .slots(slots)
                .max_message(usize_of(max_message, "--max-message")?)
                .max_subscribers(max_subscribers)
                .mode(mode)
                .resume(!no_resume);
            if let Some(n) = min_subscribers {
                o.min_subscribers(n);
            }
            if let Some(l) = layout {
                o.layout(l);
            }
            let b = shmkit_zenoh::import(&session, &key, &name, &o)
                .with_context(|| format!("importing {key:?} into {name:?}"))?;
            ("import", key, name, b)
        }
        What::Serve {
            service,
            key,
            timeout,
        } => {
            let mut o = ServiceOptions::default();
            o.timeout(timeout);
            let b = shmkit_zenoh::serve(&session, &key, &service, &o)
                .with_context(|| format!("serving {service:?} on {key:?}"))?;
            ("serve", key, service, b)
        }
        What::Offer {
            key,
            service,
            timeout,
            max_clients,
            max_len,
        } => {
            let len = u32::try_from(max_len).context("--max-len too large")?;
            let mut o = ServiceOptions::default();
            o.timeout(timeout)
                .max_clients(max_clients)
                .max_len(len, len);
            let b = shmkit_zenoh::offer(&session, &key, &service, &o)
                .with_context(|| format!("offering {key:?} as {service:?}"))?;
            ("offer", key, service, b)
        }
    };
    let start = Instant::now();
    let mut last = (start, Stats::default());
    let every = args.stats_every;
    let tick = if every.is_zero() {
        Duration::from_millis(100)
    } else {
        every.min(Duration::from_millis(100))
    };
    let report = |now: Instant, s: &Stats, prev: &(Instant, Stats), last: bool| {
        let dt = now.duration_since(prev.0).as_secs_f64().max(1e-9);
        let r = Report {
            bridge: kind,
            key: &key,
            local: &local,
            elapsed_s: now.duration_since(start).as_secs_f64(),
            messages: s.messages,
            bytes: s.bytes,
            dropped: s.dropped,
            lost: s.lost,
            refused: s.refused,
            reconnects: s.reconnects,
            local_restarts: s.local_restarts,
            messages_per_s: (s.messages - prev.1.messages) as f64 / dt,
            bytes_per_s: (s.bytes - prev.1.bytes) as f64 / dt,
            last_error: s.last_error.as_deref(),
            last,
        };
        if args.json {
            outln!("{}", serde_json::to_string(&r)?)?;
        } else {
            errln!(
                "{kind} {key} <-> {local}: {} messages (+{:.0}/s), {} (+{}/s), {} dropped, {} lost, \
                 {} refused, {} reconnects, {} local restarts{}",
                r.messages,
                r.messages_per_s,
                human(r.bytes),
                human(r.bytes_per_s as u64),
                r.dropped,
                r.lost,
                r.refused,
                r.reconnects,
                r.local_restarts,
                r.last_error.map(|e| format!("; last error: {e}")).unwrap_or_default()
            );
        }
        anyhow::Ok(())
    };
    loop {
        let stopping = stop.sleep(tick);
        if stopping || bridge.is_finished() {
            break;
        }
        let now = Instant::now();
        if !every.is_zero() && now.duration_since(last.0) >= every {
            let s = bridge.stats();
            report(now, &s, &last, false)?;
            last = (now, s);
        }
    }
    let result = bridge.stop();
    match result {
        Ok(s) => {
            report(Instant::now(), &s, &last, true)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => bail!("the {kind} bridge {key:?} <-> {local:?} stopped: {e}"),
    }
}
