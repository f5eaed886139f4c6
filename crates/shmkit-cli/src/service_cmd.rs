//! `call` and `serve`: a service from the shell. `serve` answers each request by running a
//! command with the request on its standard input; its standard output is the response.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use shmkit::service;

use crate::cli::OpenWait;
use crate::out::errln;
use crate::report::what_is;
use crate::stop::Stop;
use crate::topic::{put_data, TICK};
use crate::units::{parse_duration, parse_mode, parse_size};

/// `shmkit call`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The service.
    pub name: String,
    /// The request is this text.
    #[arg(long, conflicts_with = "file")]
    pub text: Option<String>,
    /// The request is this file's contents (without --text or --file: all of standard
    /// input).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// How long to wait for the response.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the response as JSON: `{"len", "text" or "hex"}` (`text` when it is UTF-8).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub wait: OpenWait,
}

/// `shmkit call`. Owns no name, so it installs no signal handler: Ctrl-C ends it at once.
pub fn call(a: CallArgs) -> Result<ExitCode> {
    let name = a.name.as_str();
    let request = match (&a.text, &a.file) {
        (Some(t), _) => t.clone().into_bytes(),
        (_, Some(f)) => std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
        _ => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .context("reading standard input")?;
            v
        }
    };
    let wait = a.wait.open_timeout();
    // Something else by that name: say what it is (opening it as a service would wait for a
    // header that never comes, then call it damaged). With --wait, what looks like raw bytes
    // may be a service being created: the library's open waits for its header.
    if let Ok(i) = shmkit::inspect::inspect(name) {
        let raw = i.kind == shmkit::inspect::Kind::Raw;
        if i.kind != shmkit::inspect::Kind::Object("service") && (!raw || wait.is_zero()) {
            bail!("{name:?} is {}, not a service", what_is(name));
        }
    }
    let mut client = match service::options().open_timeout(wait).open_client(name) {
        Ok(c) => c,
        Err(shmkit::Error::NotFound { .. }) if wait.is_zero() => bail!(
            "no service {name:?} — start `shmkit serve {name} -- CMD`, or give --wait \
             (without a value: until it appears)"
        ),
        Err(shmkit::Error::NotFound { .. }) => bail!(
            "no service {name:?} after {}",
            humantime::format_duration(wait)
        ),
        Err(shmkit::Error::KindMismatch { .. }) => {
            bail!("{name:?} is {}, not a service", what_is(name))
        }
        Err(shmkit::Error::Disconnected { .. }) => {
            bail!("the server of {name:?} is gone (the name is left until a new server takes it over or `shmkit gc`)")
        }
        Err(e) => return Err(e).with_context(|| format!("connecting to service {name:?}")),
    };
    let max = client.max_request_len();
    if request.len() > max {
        bail!(
            "a request of {} bytes does not fit service {name:?}, whose largest is {max} bytes",
            request.len()
        );
    }
    let pending = client
        .request(&request)
        .with_context(|| format!("sending the request to {name:?}"))?;
    let response = match client.wait_timeout(pending, a.timeout) {
        Ok(r) => r.to_vec(),
        Err(shmkit::Error::Timeout { .. }) => bail!(
            "no response from {name:?} within {}",
            humantime::format_duration(a.timeout)
        ),
        Err(e) => return Err(e).with_context(|| format!("waiting for {name:?}'s response")),
    };
    if a.json {
        let mut o = serde_json::Map::new();
        o.insert("len".into(), response.len().into());
        put_data(&mut o, &response);
        crate::out::outln!("{}", serde_json::Value::Object(o))?;
    } else {
        crate::out::write_all(&response)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `shmkit serve`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The service (created; or taken over if its server is gone).
    pub name: String,
    /// How many clients may be connected at once.
    #[arg(long, default_value = "16")]
    pub max_clients: u32,
    /// The largest request.
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    pub max_request_len: u64,
    /// The largest response; a longer output of CMD is answered with an empty response.
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    pub max_response_len: u64,
    /// Unix permission bits, in octal (e.g. 600, 660).
    #[arg(long, value_parser = parse_mode, default_value = "600")]
    pub mode: u32,
    /// Stop after answering this many requests.
    #[arg(long)]
    pub count: Option<u64>,
    /// Answer each request with itself (no CMD).
    #[arg(long, conflicts_with = "command")]
    pub echo: bool,
    /// Kill a CMD that has not finished after this long (its request is answered with an
    /// empty response): one stuck command must not hold every client.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The command that answers: run once per request, the request on its standard input,
    /// its standard output the response (its standard error goes to serve's).
    #[arg(last = true, required_unless_present = "echo", value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `shmkit serve`: until Ctrl-C, SIGTERM or SIGHUP (or `--count` requests), then removes the
/// service. A CMD that fails (a status other than 0) or prints more than
/// `--max-response-len` is reported on standard error and its request is answered with an
/// empty response, so the client is not left waiting; a CMD that cannot be started ends
/// `serve` with an error.
pub fn serve(a: ServeArgs) -> Result<ExitCode> {
    let name = a.name.as_str();
    let len = |n: u64, what: &str| {
        u32::try_from(n).with_context(|| format!("{what} {n} is too large (at most 1GiB)"))
    };
    let mut server = service::options()
        .max_clients(a.max_clients)
        .max_request_len(len(a.max_request_len, "--max-request-len")?)
        .max_response_len(len(a.max_response_len, "--max-response-len")?)
        .mode(a.mode)
        .create_server(name)
        .with_context(|| format!("creating service {name:?}"))?;
    let stop = Stop::install()?;
    if std::io::stderr().is_terminal() {
        errln!("serving {name:?}; Ctrl-C to stop");
    }
    let max_response = server.max_response_len();
    let mut served = 0u64;
    while a.count.is_none_or(|c| served < c) && !stop.requested() {
        let req = match server.recv_timeout(TICK) {
            Ok(r) => r,
            Err(shmkit::Error::Timeout { .. }) => continue,
            Err(e) => return Err(e).with_context(|| format!("receiving on {name:?}")),
        };
        let mut response = if a.echo {
            req.to_vec()
        } else {
            let ran = run(&a.command, &req, a.timeout, &stop).inspect_err(|_| {
                // Every request would fail the same way: end, after telling this client.
                let _ = server.respond(req.handle(), &[]);
            })?;
            match ran {
                Ok(out) => out,
                Err(why) => {
                    errln!(
                        "shmkit: request {} of {name:?}: {why}; answered with an empty response",
                        req.handle().id()
                    );
                    Vec::new()
                }
            }
        };
        if response.len() > max_response {
            errln!(
                "shmkit: request {} of {name:?}: a response of {} bytes does not fit (largest \
                 {max_response}, --max-response-len); answered with an empty response",
                req.handle().id(),
                response.len()
            );
            response.clear();
        }
        match server.respond(req.handle(), &response) {
            Ok(()) => {}
            Err(e @ (shmkit::Error::Disconnected { .. } | shmkit::Error::Full { .. })) => {
                errln!(
                    "shmkit: request {} of {name:?} not answered: {e}",
                    req.handle().id()
                );
            }
            Err(e) => return Err(e).with_context(|| format!("responding on {name:?}")),
        }
        served += 1;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `command` with `input` on its standard input: its standard output, or why it
/// failed. A command that cannot be started is an error (every request would fail). One
/// still running after `timeout`, or when a stop is requested, is killed, with (on Unix)
/// the processes it started: it runs in a process group of its own.
fn run(
    command: &[OsString],
    input: &[u8],
    timeout: Duration,
    stop: &Stop,
) -> Result<std::result::Result<Vec<u8>, String>> {
    let (prog, args) = command.split_first().context("no command given")?;
    let shown = prog.to_string_lossy();
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().with_context(|| format!("starting {shown}"))?;
    let mut stdin = child.stdin.take().context("the command's standard input")?;
    let mut stdout = child
        .stdout
        .take()
        .context("the command's standard output")?;
    // Input and output each on a thread of its own: a command that prints before it has
    // read everything would otherwise block on a full pipe while this side blocks writing.
    // Not joined when the command is killed: a process it left behind may hold the pipes.
    let input = input.to_vec();
    std::thread::spawn(move || {
        // A command that exits without reading its input closes the pipe: not an error.
        let _ = stdin.write_all(&input);
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = tx.send(stdout.read_to_end(&mut out).map(|_| out));
    });
    let deadline = Instant::now().checked_add(timeout);
    let give_up = |child: &mut std::process::Child| {
        let late = deadline.is_some_and(|d| Instant::now() >= d);
        if !late && !stop.requested() {
            return None;
        }
        kill(child);
        Some(match late {
            true => format!(
                "{shown} did not finish within {} and was killed",
                humantime::format_duration(timeout)
            ),
            false => format!("{shown} was stopped (serve is ending)"),
        })
    };
    let status = loop {
        if let Some(st) = child
            .try_wait()
            .with_context(|| format!("running {shown}"))?
        {
            break st;
        }
        if let Some(why) = give_up(&mut child) {
            return Ok(Err(why));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = loop {
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(out) => break out.with_context(|| format!("reading the output of {shown}"))?,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break Vec::new(),
            // It exited, but something it started still holds its output open.
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Some(why) = give_up(&mut child) {
                    return Ok(Err(why));
                }
            }
        }
    };
    if !status.success() {
        return Ok(Err(format!("{shown} failed ({status})")));
    }
    Ok(Ok(out))
}

/// Kills `child` and, on Unix, the rest of its process group (what it started).
fn kill(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}
