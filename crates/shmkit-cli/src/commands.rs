//! The subcommands that work on segments: create, write, read, info, ls, rm, gc, watch, demo.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::CommandFactory;
use shmkit::inspect::{self, Kind};
use shmkit::{Access, Segment};

use crate::cli::{Cli, Command};
use crate::out::{errln, outln, say, Narrator};
use crate::report::{details_lines, human_age, InfoJson, LsJson};
use crate::stop::Stop;
use crate::units::human;
use crate::{external, hexdump, out, stream, table};

/// Runs one subcommand.
pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Create {
            name,
            size,
            mode,
            keep,
        } => create(&name, size, mode, keep),
        Command::Write {
            name,
            wait,
            offset,
            text,
            file,
            stdin,
        } => {
            let data = match (text, file, stdin) {
                (Some(t), _, _) => t.into_bytes(),
                (_, Some(f), _) => {
                    std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?
                }
                (_, _, Some(true)) => {
                    let mut v = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut v)
                        .context("reading standard input")?;
                    v
                }
                _ => bail!("nothing to write: give --text, --file or `-` for standard input"),
            };
            write(&name, wait.open_timeout(), offset, &data)
        }
        Command::Read {
            name,
            wait,
            offset,
            len,
            hex,
        } => read(&name, wait.open_timeout(), offset, len, hex),
        Command::Info { name, wait, json } => info(&name, wait.open_timeout(), json),
        Command::Ls { json, all } => ls(json, all),
        Command::Rm { names } => rm(&names),
        Command::Gc { dry_run } => gc(dry_run),
        Command::Top {
            interval,
            count,
            json,
            all,
        } => crate::top::top(interval, count, json, all),
        Command::Watch {
            name,
            wait,
            offset,
            len,
            interval,
            count,
        } => watch(&name, wait.open_timeout(), offset, len, interval, count),
        Command::Send {
            name,
            input,
            wait,
            wait_strategy,
        } => stream::send(&name, &input, wait, wait_strategy.into()),
        Command::Recv {
            name,
            output,
            capacity,
            mode,
            wait_strategy,
        } => stream::recv(
            &name,
            output.as_deref(),
            capacity,
            mode,
            wait_strategy.into(),
        ),
        Command::Record(args) => crate::record::record(args),
        Command::Replay(args) => crate::replay::replay(args),
        Command::Subscribe(a) => crate::topic::subscribe(a),
        Command::Publish(a) => crate::topic::publish(*a),
        Command::Hz(a) => crate::rate::run(a, crate::rate::Show::Hz),
        Command::Bw(a) => crate::rate::run(a, crate::rate::Show::Bw),
        Command::Call(a) => crate::service_cmd::call(a),
        Command::Serve(a) => crate::service_cmd::serve(a),
        #[cfg(feature = "bridge")]
        Command::Bridge(args) => crate::bridge::run(*args),
        #[cfg(not(feature = "bridge"))]
        Command::Bridge { args } => external::BRIDGE.run(&args),
        Command::Bench {
            quick,
            json,
            tables,
        } => {
            let mut args: Vec<OsString> = tables.into_iter().map(Into::into).collect();
            args.extend(quick.then(|| "--quick".into()));
            args.extend(json.then(|| "--json".into()));
            external::BENCH.run(&args)
        }
        Command::Demo { name } => demo(&name),
        Command::DemoClient { name } => demo_client(&name),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when it cannot write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "shmkit", &mut script);
            out::write_all(&script)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The context of an open that waited `wait` for the object to appear.
pub(crate) fn opening(name: &str, wait: Duration) -> String {
    match wait {
        Duration::ZERO => format!("opening {name:?}"),
        Duration::MAX => format!("opening {name:?} (waiting for it)"),
        w => format!(
            "opening {name:?} (after waiting {})",
            humantime::format_duration(w)
        ),
    }
}

fn to_usize(n: u64, what: &str) -> Result<usize> {
    usize::try_from(n).with_context(|| format!("{what} {n} is too large for this platform"))
}

fn create(name: &str, size: u64, mode: u32, keep: bool) -> Result<ExitCode> {
    if keep && cfg!(windows) {
        bail!("--keep cannot work on Windows: a segment lives only while some process has it open; run without --keep to hold it");
    }
    let size = to_usize(size, "size")?;
    let mut seg = Segment::options()
        .size(size)
        .mode(mode)
        .keep(keep)
        .create(name)
        .with_context(|| format!("creating {name:?}"))?;
    // The segment exists now: a closed standard output must not end the command before it has
    // done what it says (return with --keep, hold and then remove without).
    let mut out = Narrator::default();
    if keep {
        say!(
            out,
            "created {name} ({}, mode {mode:o}); remove it with `shmkit rm {name}`",
            human(seg.len() as u64)
        );
        out.finish()?;
        return Ok(ExitCode::SUCCESS);
    }
    let stop = Stop::install()?;
    say!(
        out,
        "created {name} ({}, mode {mode:o}); holding it until Ctrl-C",
        human(seg.len() as u64)
    );
    stop.wait();
    seg.set_keep(false);
    drop(seg);
    errln!("removed {name}");
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn write(name: &str, wait: Duration, offset: u64, data: &[u8]) -> Result<ExitCode> {
    let seg = Segment::options()
        .open_timeout(wait)
        .open(name)
        .with_context(|| opening(name, wait))?;
    let end = offset.checked_add(data.len() as u64);
    if end.is_none_or(|e| e > seg.len() as u64) {
        bail!(
            "{} bytes at offset {offset} do not fit in {name:?} ({} bytes); nothing was written",
            data.len(),
            seg.len()
        );
    }
    if !data.is_empty() {
        let mut view = seg.map_range(Access::ReadWrite, to_usize(offset, "offset")?, data.len())?;
        view.write_at(0, data)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read(name: &str, wait: Duration, offset: u64, len: Option<u64>, hex: bool) -> Result<ExitCode> {
    let seg = Segment::options()
        .read_only(true)
        .open_timeout(wait)
        .open(name)
        .with_context(|| opening(name, wait))?;
    let size = seg.len() as u64;
    if offset > size {
        bail!("offset {offset} is past the end of {name:?} ({size} bytes)");
    }
    let len = len.unwrap_or(size - offset);
    if offset.checked_add(len).is_none_or(|e| e > size) {
        bail!("{len} bytes at offset {offset} run past the end of {name:?} ({size} bytes)");
    }
    let bytes = if len == 0 {
        Vec::new()
    } else {
        let view = seg.map_range(
            Access::ReadOnly,
            to_usize(offset, "offset")?,
            to_usize(len, "length")?,
        )?;
        view.read_vec(0, view.len())?
    };
    if hex {
        out::write_all(hexdump::dump(&bytes, offset, &|_| false, "", "").as_bytes())?;
    } else {
        out::write_all(&bytes)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn info(name: &str, wait: Duration, json: bool) -> Result<ExitCode> {
    if !wait.is_zero() {
        // `inspect` does not wait: wait for the name with a read-only open first. Any other
        // error of that open (say, access to the bytes denied) is `inspect`'s to report.
        let seen = Segment::options()
            .read_only(true)
            .open_timeout(wait)
            .open(name);
        if let Err(e @ shmkit::Error::NotFound { .. }) = seen {
            return Err(e).with_context(|| opening(name, wait));
        }
    }
    let i = inspect::inspect(name).with_context(|| format!("inspecting {name:?}"))?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&InfoJson::new(&i))?)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("name:     {}", i.name)?;
    outln!("size:     {} ({})", i.len, human(i.len as u64))?;
    outln!("kind:     {}", i.kind.label())?;
    if let Some(v) = i.layout_version {
        outln!("layout:   version {v}")?;
    }
    if let Some(uid) = i.owner_uid {
        outln!("owner:    uid {uid}")?;
    }
    if let Some(m) = i.mode {
        outln!("mode:     {m:o}")?;
    }
    if let Some(age) = i.age_seconds() {
        outln!("modified: {} ago", human_age(age))?;
    }
    match (i.creator_pid, i.creator_alive) {
        (Some(pid), Some(true)) => outln!("creator:  pid {pid} (still has it open)")?,
        (Some(pid), Some(false)) => outln!("creator:  pid {pid} (gone)")?,
        (Some(pid), None) => outln!("creator:  pid {pid}")?,
        _ => {}
    }
    if let Kind::Object(_) = i.kind {
        outln!("in use:   {}", in_use(&i))?;
    }
    for h in &i.holders {
        outln!("holder:   {} (pid {})", h.role, h.pid)?;
    }
    for l in i.details.iter().flat_map(details_lines) {
        outln!("{l}")?;
    }
    if let Some(e) = &i.details_error {
        outln!("details:  unreadable: {e}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether an object is in use, in words.
fn in_use(i: &shmkit::inspect::Info) -> &'static str {
    match i.in_use {
        Some(true) => "yes",
        Some(false) => "no (no process has it open; `shmkit gc` removes it)",
        None if i.layout_version != Some(inspect::LAYOUT_VERSION) => {
            "unknown (another layout version)"
        }
        None => "unknown (this OS cannot tell)",
    }
}

/// Every listed segment with what `inspect` says; unreadable ones are skipped with a note.
pub fn survey(all: bool) -> Result<Vec<shmkit::inspect::Info>> {
    let names = inspect::list().context("listing segments")?;
    let mut out = Vec::new();
    for n in names {
        if !all && n.starts_with("sem.") {
            continue; // glibc's named semaphores live in /dev/shm too
        }
        match inspect::inspect(&n) {
            Ok(i) => out.push(i),
            Err(shmkit::Error::NotFound { .. }) => {} // removed meanwhile
            Err(e) if all => errln!("shmkit: {n}: {e}"),
            Err(_) => {}
        }
    }
    Ok(out)
}

fn ls(json: bool, all: bool) -> Result<ExitCode> {
    let infos = survey(all)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&LsJson::new(&infos))?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = infos
        .iter()
        .map(|i| {
            vec![
                i.name.clone(),
                human(i.len as u64),
                i.kind.id(),
                i.owner_uid.map_or("-".into(), |u| u.to_string()),
                i.age_seconds().map_or("-".into(), human_age),
                match i.in_use {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "-".into(),
                },
                match (i.creator_pid, i.creator_alive) {
                    (Some(p), Some(false)) => format!("{p}(gone)"),
                    (Some(p), _) => format!("{p}"),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    let header = ["NAME", "SIZE", "KIND", "OWNER", "AGE", "IN-USE", "CREATOR"];
    for line in table::render(&header, &rows, &[1]) {
        outln!("{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn rm(names: &[String]) -> Result<ExitCode> {
    // Every name is removed (or reported) even when nobody reads standard output.
    let mut out = Narrator::default();
    let mut failed = false;
    for n in names {
        match Segment::remove(n) {
            Ok(()) if cfg!(windows) => {
                say!(out, "{n}: Windows frees it when its last handle closes")
            }
            Ok(()) => say!(out, "removed {n}"),
            Err(e) => {
                errln!("shmkit: {}", crate::report::message(&anyhow::Error::new(e)));
                failed = true;
            }
        }
    }
    out.finish().context("writing to standard output")?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn gc(dry_run: bool) -> Result<ExitCode> {
    let mut out = Narrator::default(); // collects everything even when nobody reads
    let (mut n, mut failed, mut unknown) = (0, false, 0);
    for i in survey(false)? {
        let Kind::Object(kind) = i.kind else {
            continue; // raw segments are never collected
        };
        let kind = Kind::Object(kind).id();
        match i.in_use {
            Some(true) => continue,
            None => {
                unknown += 1;
                continue;
            }
            Some(false) => {}
        }
        n += 1;
        if dry_run {
            say!(
                out,
                "would remove {} ({kind}, no process has it open)",
                i.name
            );
            continue;
        }
        // Tests and removes in one step: a process that opened it since the survey keeps it.
        match inspect::remove_unused(&i.name) {
            Ok(inspect::Removal::Removed) => {
                say!(out, "removed {} ({kind}, no process had it open)", i.name)
            }
            Ok(_) => say!(out, "kept {} ({kind}, opened meanwhile)", i.name),
            Err(shmkit::Error::NotFound { .. }) => {} // removed by someone else meanwhile
            Err(e) => {
                errln!("shmkit: could not remove {}: {e}", i.name);
                failed = true;
            }
        }
    }
    if n == 0 {
        say!(out, "nothing to collect");
    }
    if unknown > 0 {
        say!(
            out,
            "left {unknown} object(s) whose use cannot be told (another layout version, or an OS \
             without open-file-description locks); `shmkit info` shows which"
        );
    }
    out.finish().context("writing to standard output")?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn watch(
    name: &str,
    wait: Duration,
    offset: u64,
    len: Option<u64>,
    interval: Duration,
    count: Option<u64>,
) -> Result<ExitCode> {
    let seg = Segment::options()
        .read_only(true)
        .open_timeout(wait)
        .open(name)
        .with_context(|| opening(name, wait))?;
    let size = seg.len() as u64;
    if offset >= size {
        bail!("offset {offset} is past the end of {name:?} ({size} bytes)");
    }
    let len = len.unwrap_or((size - offset).min(256));
    if offset.checked_add(len).is_none_or(|e| e > size) || len == 0 {
        bail!("{len} bytes at offset {offset} do not fit in {name:?} ({size} bytes)");
    }
    let view = seg.map_range(
        Access::ReadOnly,
        to_usize(offset, "offset")?,
        to_usize(len, "length")?,
    )?;
    let tty = std::io::stdout().is_terminal();
    let (on, off) = if tty {
        ("\x1b[7m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    let stop = Stop::install()?;
    let mut prev: Option<Vec<u8>> = None;
    let mut frames = 0u64;
    let mut out = std::io::stdout().lock();
    // Ends on a stop request, after --count frames, or (through `?`) when the reader goes away.
    while !stop.requested() && count.is_none_or(|c| frames < c) {
        let now = view.read_vec(0, view.len())?;
        let changed = |i: usize| prev.as_ref().is_some_and(|p| p[i] != now[i]);
        if tty {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        writeln!(
            out,
            "{name} @ {offset}, {len} bytes (refresh {interval:?}, Ctrl-C to stop)"
        )?;
        out.write_all(hexdump::dump(&now, offset, &changed, on, off).as_bytes())?;
        writeln!(out)?;
        out.flush()?;
        prev = Some(now);
        frames += 1;
        if count.is_none_or(|c| frames < c) {
            stop.sleep(interval);
        }
    }
    Ok(ExitCode::SUCCESS)
}

// The classic scenario's layout, as in crates/shmkit/examples/classic: message at 0, u32 flags
// at 2040 (message written) and 2048 (reply written), reply at 2052.
const MESSAGE_FLAG: usize = 2040;
const REPLY_FLAG: usize = 2048;
const REPLY: usize = 2052;

/// Waits until the other process sets the flag at `at`; gives up after 30 s or on a stop request.
fn wait_flag(view: &shmkit::View, at: usize, what: &str, stop: Option<&Stop>) -> Result<()> {
    let flag = view.atomic_u32(at)?;
    let start = std::time::Instant::now();
    // Acquire pairs with the other process's Release store of the flag.
    while flag.load(Ordering::Acquire) == 0 {
        if start.elapsed() > Duration::from_secs(30) {
            bail!("no {what} within 30 s");
        }
        let pause = Duration::from_millis(5);
        match stop {
            Some(stop) if stop.sleep(pause) => bail!("interrupted while waiting for the {what}"),
            Some(_) => {}
            None => std::thread::sleep(pause),
        }
    }
    Ok(())
}

fn cstr(view: &shmkit::View, at: usize, max: usize) -> Result<String> {
    let b = view.read_vec(at, max)?;
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    Ok(String::from_utf8_lossy(&b[..end]).into_owned())
}

/// The server half. It owns the segment, so Ctrl-C, SIGTERM or SIGHUP ends it through the
/// normal path (the segment is removed); the narration is a [`Narrator`], so a closed standard
/// output does not cut the scenario short.
fn demo(name: &str) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let mut out = Narrator::default();
    let message = "Message from the server process.";
    say!(
        out,
        "[server] 1. creating a 4096-byte segment named {name:?} (shm_open / CreateFileMapping)"
    );
    let seg = Segment::create(name, 4096).with_context(|| format!("creating {name:?}"))?;
    say!(
        out,
        "[server] 2. mapping a read-write view of it (mmap / MapViewOfFile)"
    );
    let mut view = seg.map(Access::ReadWrite)?;
    say!(
        out,
        "[server] 3. copying the message into the view — the bytes, never a pointer:"
    );
    say!(out, "[server]    {message:?}");
    view.write_at(0, format!("{message}\0").as_bytes())?;
    view.atomic_u32(MESSAGE_FLAG)?.store(1, Ordering::Release);
    say!(
        out,
        "[server] 4. starting a client process, which knows only the name"
    );
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .args(["demo-client", name])
        .spawn()?;
    say!(out, "[server] 5. waiting for the client's reply...");
    if let Err(e) = wait_flag(&view, REPLY_FLAG, "reply from the client", Some(&stop)) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    say!(
        out,
        "[server] 8. the client replied: {:?}",
        cstr(&view, REPLY, 4096 - REPLY)?
    );
    if !child.wait()?.success() {
        bail!("the client process failed");
    }
    drop(view);
    drop(seg);
    say!(
        out,
        "[server] 9. unmapped and removed {name:?} (the creator owns the name)"
    );
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// The client half: owns no name, so it keeps the default signal dispositions.
fn demo_client(name: &str) -> Result<ExitCode> {
    let mut out = Narrator::default();
    let pid = std::process::id();
    let seg = Segment::open(name).with_context(|| format!("opening {name:?}"))?;
    let mut view = seg.map(Access::ReadWrite)?;
    wait_flag(&view, MESSAGE_FLAG, "message from the server", None)?;
    say!(
        out,
        "[client] 6. (pid {pid}) opened {name:?} by name and read: {:?}",
        cstr(&view, 0, MESSAGE_FLAG)?
    );
    view.write_at(REPLY, b"Hello back from the client process.\0")?;
    view.atomic_u32(REPLY_FLAG)?.store(1, Ordering::Release);
    say!(
        out,
        "[client] 7. wrote a reply into the same memory and exited"
    );
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}
