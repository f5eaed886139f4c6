//! `record` and `replay` against real processes: a publisher in a child process (this test
//! binary, re-run with `SHMKIT_RECORD_CHILD` set), the recorder and the replayer as `shmkit`
//! processes, and the file read back with the `mcap` crate, as another program would.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shmkit::channel::broadcast::{self, Policy};

use super::{rest_of_stderr, signal, wait_for_kind, Killed, Name};

const MESSAGES: u64 = 1000;
const SLOT_SIZE: usize = 4096;

/// Message `i`: 0 to 4096 bytes, each message different.
fn message(i: u64) -> Vec<u8> {
    let len = (i as usize * 389) % (SLOT_SIZE + 1);
    (0..len)
        .map(|k| ((i as usize * 7 + k * 13) % 251) as u8)
        .collect()
}

/// Not a test of its own: the publisher process. Creates the broadcast named by
/// `SHMKIT_RECORD_CHILD`, waits for one subscriber (the recorder), publishes [`MESSAGES`]
/// messages and stays until it is killed.
#[test]
fn child_publisher() {
    let Ok(name) = std::env::var("SHMKIT_RECORD_CHILD") else {
        return;
    };
    let mut p = broadcast::options()
        .slots(8)
        .slot_size(SLOT_SIZE)
        .max_subscribers(4)
        .policy(Policy::Block)
        .create_publisher(&name)
        .unwrap();
    assert_eq!((p.slots(), p.max_subscribers()), (8, 4));
    p.wait_for_subscribers(1).unwrap();
    for i in 0..MESSAGES {
        p.send(&message(i)).unwrap();
    }
    std::thread::sleep(Duration::from_secs(120)); // the test kills it
}

fn publisher(name: &str) -> Killed {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["record::child_publisher", "--exact", "--nocapture"])
        .env("SHMKIT_RECORD_CHILD", name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let k = Killed(child);
    wait_for_kind(name, "broadcast channel");
    k
}

fn recorder(name: &str, file: &Path) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(["record", name, "-o"])
            .arg(file)
            .args(["--flush-every", "50ms"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// The messages a reader that ignores the summary gets from `file`, up to the first error.
fn readable(file: &Path) -> (Vec<mcap::Message<'static>>, Option<String>) {
    let Ok(bytes) = std::fs::read(file) else {
        return (Vec::new(), None);
    };
    let mut out = Vec::new();
    for m in mcap::io::MessageReader::new(std::io::Cursor::new(bytes)) {
        match m {
            Ok(m) => out.push(m),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
    (out, None)
}

/// Waits until `file` holds every message (the recorder flushes every 50 ms). The limit only
/// guards against a hang.
fn wait_for_all(file: &Path) {
    let start = Instant::now();
    while (readable(file).0.len() as u64) < MESSAGES {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the recording never held {MESSAGES} messages"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[track_caller]
fn assert_every_message(msgs: &[mcap::Message<'_>], topic: &str) {
    assert_eq!(msgs.len() as u64, MESSAGES);
    for (i, m) in msgs.iter().enumerate() {
        let i = i as u64;
        assert_eq!(m.channel.topic, topic);
        assert_eq!(m.channel.message_encoding, "shmkit-raw");
        let schema = m.channel.schema.as_ref().expect("a schema");
        assert_eq!(schema.name, "shmkit/bytes");
        assert_eq!(schema.encoding, "shmkit-layout");
        assert_eq!(m.sequence as u64, i, "the broadcast's sequence");
        assert_eq!(m.data.as_ref(), message(i).as_slice(), "message {i}");
    }
}

/// A 1000-message broadcast of 0 to 4 KiB messages, recorded until SIGTERM: the file is
/// complete (summary, statistics, the recorder's metadata) and holds every message byte for
/// byte; replayed into a new name, a subscriber gets every message again, from a broadcast
/// of the recorded shape.
#[test]
fn record_until_sigterm_then_replay_every_message() {
    let name = Name::new("rec");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rec.mcap");
    let _publisher = publisher(&name);
    let mut rec = recorder(&name, &file);
    wait_for_all(&file);
    signal(&rec.0, libc::SIGTERM);
    let status = rec.0.wait().unwrap();
    let err = rest_of_stderr(&mut rec.0);
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("recorded 1000 message(s)") && err.contains("interrupted"),
        "{err}"
    );
    assert!(err.contains("nothing lost"), "{err}");

    let bytes = std::fs::read(&file).unwrap();
    let (msgs, error) = readable(&file);
    assert_eq!(error, None, "a complete file reads to its end");
    assert_every_message(&msgs, &name);
    let meta = &msgs[0].channel.metadata;
    assert_eq!(meta["shmkit.kind"], "broadcast");
    assert_eq!(meta["shmkit.slots"], "8");
    assert_eq!(meta["shmkit.slot_size"], "4096");
    assert_eq!(meta["shmkit.max_subscribers"], "4");
    assert_eq!(meta["shmkit.policy"], "block");
    let summary = mcap::Summary::read(&bytes)
        .unwrap()
        .expect("a file closed by SIGTERM has its summary");
    let stats = summary.stats.expect("statistics");
    assert_eq!(stats.message_count, MESSAGES);
    assert_eq!(stats.channel_count, 1);

    // Replay under another name, as fast as the subscriber reads.
    let replayed = Name::new("replayed");
    let remap = format!("{}={}", &*name, &*replayed);
    let mut play = Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .arg("replay")
            .arg(&file)
            .args(["--remap", &remap, "--fast", "--wait-for-subscribers", "1"])
            .args(["--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut sub = broadcast::options()
        .open_timeout(Duration::from_secs(60))
        .open_subscriber(&replayed)
        .unwrap();
    assert_eq!(sub.slots(), 8);
    assert_eq!(sub.max_message_len(), SLOT_SIZE);
    assert_eq!(sub.max_subscribers(), 4);
    assert_eq!(sub.policy(), Policy::Block);
    assert_eq!(sub.message_layout().unwrap(), None);
    let mut buf = Vec::new();
    for i in 0..MESSAGES {
        sub.recv_into_timeout(&mut buf, Duration::from_secs(60))
            .unwrap();
        assert_eq!(buf, message(i), "replayed message {i}");
    }
    assert!(matches!(
        sub.recv_into_timeout(&mut buf, Duration::from_secs(60)),
        Err(shmkit::Error::Disconnected { .. })
    ));
    let mut stdout = String::new();
    std::io::Read::read_to_string(play.0.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let status = play.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", rest_of_stderr(&mut play.0));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["messages"], MESSAGES);
    assert_eq!(json["ended"], "end");
}

/// A recorder killed with SIGKILL leaves a file without its summary, from which a reader
/// that does not need the summary gets every message flushed before the kill (here all of
/// them: the test waits until they are readable), and which `replay` plays.
#[test]
fn a_sigkilled_recorder_leaves_every_flushed_message() {
    let name = Name::new("killed");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("killed.mcap");
    let _publisher = publisher(&name);
    let mut rec = recorder(&name, &file);
    wait_for_all(&file);
    signal(&rec.0, libc::SIGKILL);
    let _ = rec.0.wait();
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        !matches!(mcap::Summary::read(&bytes), Ok(Some(_))),
        "a killed recorder wrote no summary"
    );
    let (msgs, error) = readable(&file);
    assert!(error.is_some(), "the file ends without its footer");
    assert_every_message(&msgs, &name);

    let out = super::shmkit(&[
        "replay",
        file.to_str().unwrap(),
        "--fast",
        "--remap",
        &format!("{}={}-r", &*name, &*name),
    ]);
    super::assert_code(&out, 0);
    let err = super::stderr(&out);
    assert!(
        err.contains("ends early") && err.contains("replayed 1000 message(s)"),
        "{err}"
    );
}

/// A typed channel and a typed broadcast, recorded together (`--count`, which ends the
/// recording) and replayed under new names: the replayed objects carry the recorded layouts,
/// so typed readers of that type and tag open them and get every value, and a reader of
/// another tag is refused.
#[test]
fn typed_channels_and_broadcasts_record_and_replay_with_their_layout() {
    type Pair = [u32; 2];
    const TAG: &str = "pair v1";
    let (ch, bc) = (Name::new("rec-typed-ch"), Name::new("rec-typed-bc"));
    let mut tx = shmkit::channel::typed::<Pair>()
        .tag(TAG)
        .capacity(4096)
        .create_producer(&ch)
        .unwrap();
    let mut publ = broadcast::typed::<Pair>()
        .tag(TAG)
        .slots(16)
        .create_publisher(&bc)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typed.mcap");
    let mut rec = Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(["record", &ch, &bc, "--count", "20", "-o"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The recorder holds the channel's consumer role and a subscriber place.
    publ.wait_for_subscribers_timeout(1, Duration::from_secs(60))
        .unwrap();
    for i in 0..10u32 {
        tx.send(&[i, 2 * i]).unwrap();
        publ.send(&[i, 3 * i]).unwrap();
    }
    // A guard against a hang only (no speed is asserted): the count ends the recording.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = rec.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the recorder never reached --count 20"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{}", rest_of_stderr(&mut rec.0));
    drop((tx, publ));

    let (ch2, bc2) = (Name::new("rec-typed-ch2"), Name::new("rec-typed-bc2"));
    let remaps = [format!("{}={}", &*ch, &*ch2), format!("{}={}", &*bc, &*bc2)];
    let mut replay = Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .arg("replay")
            .arg(&file)
            .args(["--remap", &remaps[0], "--remap", &remaps[1]])
            .args(["--fast", "--wait-for-subscribers", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let wait = Duration::from_secs(60);
    let mut rx = shmkit::channel::typed::<Pair>()
        .tag(TAG)
        .open_timeout(wait)
        .open_consumer(&ch2)
        .unwrap();
    let mut sub = broadcast::typed::<Pair>()
        .tag(TAG)
        .open_timeout(wait)
        .open_subscriber(&bc2)
        .unwrap();
    let other = broadcast::typed::<Pair>()
        .tag("pair v2")
        .open_subscriber(&bc2);
    assert!(
        matches!(other, Err(shmkit::Error::LayoutMismatch { .. })),
        "{other:?}"
    );
    for i in 0..10u32 {
        assert_eq!(*rx.recv_timeout(wait).unwrap(), [i, 2 * i]);
        assert_eq!(*sub.recv_timeout(wait).unwrap(), [i, 3 * i]);
    }
    let status = replay.0.wait().unwrap();
    assert!(status.success(), "{}", rest_of_stderr(&mut replay.0));
}
