//! `shmkit bridge`: an exporter and an importer on loopback carry a broadcast, report their
//! counters as JSON lines, and end cleanly on SIGTERM; bad arguments are clear errors. (The
//! two-machine tests of the bridge itself are in crates/shmkit-zenoh.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shmkit::channel::broadcast;

use crate::{assert_code, shmkit, stderr, Name};

fn endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("tcp/127.0.0.1:{port}")
}

/// `shmkit bridge ARGS`, killed if the test fails.
struct Bridge(Child);

impl Bridge {
    fn start(args: &[&str]) -> Bridge {
        Bridge(
            Command::new(env!("CARGO_BIN_EXE_shmkit"))
                .args([
                    "bridge",
                    "--no-multicast-scouting",
                    "--json",
                    "--stats-every",
                    "100ms",
                ])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start shmkit bridge"),
        )
    }

    /// SIGTERM, then the last JSON line (`"final": true`) and the exit code.
    fn terminate(mut self) -> (serde_json::Value, Option<i32>) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let out = BufReader::new(self.0.stdout.take().unwrap());
        let last = out
            .lines()
            .map_while(Result::ok)
            .last()
            .expect("a JSON line");
        let status = self.0.wait().unwrap();
        (serde_json::from_str(&last).unwrap(), status.code())
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn export_and_import_carry_a_broadcast_and_report_json() {
    let (src, dst, key, ep) = (
        Name::new("bsrc"),
        Name::new("bdst"),
        Name::new("bkey"),
        endpoint(),
    );
    let mut publ = broadcast::options().create_publisher(&src).unwrap();
    let out = Bridge::start(&["-l", &ep, "export", &src, "--key", &key]);
    let inn = Bridge::start(&["-e", &ep, "import", &key, "--into", &dst, "--no-resume"]);
    let start = Instant::now();
    let mut sub = loop {
        match broadcast::options().open_subscriber(&dst) {
            Ok(s) => break s,
            Err(_) if start.elapsed() < Duration::from_secs(30) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("the importer's broadcast: {e}"),
        }
    };
    // Back-pressure: the exporter takes nothing until the importer is attached.
    for i in 0..500u32 {
        publ.send(&i.to_le_bytes().repeat(1 + i as usize % 50))
            .unwrap();
    }
    let mut buf = Vec::new();
    for i in 0..500u32 {
        sub.recv_into_timeout(&mut buf, Duration::from_secs(30))
            .unwrap();
        assert_eq!(buf, i.to_le_bytes().repeat(1 + i as usize % 50));
    }
    let (o, code) = out.terminate();
    assert_eq!(code, Some(0), "{o}");
    assert_eq!(
        (o["bridge"].as_str(), o["messages"].as_u64()),
        (Some("export"), Some(500))
    );
    let (i, code) = inn.terminate();
    assert_eq!(code, Some(0), "{i}");
    assert_eq!(
        (
            i["bridge"].as_str(),
            i["messages"].as_u64(),
            i["lost"].as_u64(),
            i["final"].as_bool()
        ),
        (Some("import"), Some(500), Some(0), Some(true)),
        "{i}"
    );
    assert_eq!(i["bytes"], o["bytes"]);
}

#[test]
fn bad_bridge_arguments_are_clear_errors() {
    let o = shmkit(&["bridge", "import", "k", "--into", "x", "--layout", "12:5"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("power of two"), "{}", stderr(&o));
    let o = shmkit(&[
        "bridge",
        "--no-multicast-scouting",
        "export",
        "x",
        "--key",
        "a/*",
    ]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("wildcards"), "{}", stderr(&o));
}

/// The bridge shown with the CLI alone (issue 21): `publish` on one side, `bridge export`
/// and `bridge import`, `subscribe` on the other; nothing lost, in order.
#[test]
fn publish_and_subscribe_through_a_bridge_with_the_cli_alone() {
    use std::io::Write;
    let (src, dst, key, ep) = (
        Name::new("clisrc"),
        Name::new("clidst"),
        Name::new("clikey"),
        endpoint(),
    );
    let sub = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["subscribe", &dst, "--wait=60s", "--json", "--count", "50"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Bridge::start(&["-l", &ep, "export", &src, "--key", &key]);
    let inn = Bridge::start(&["-e", &ep, "import", &key, "--into", &dst, "--no-resume"]);
    // Waits for the exporter's subscriber; the exporter takes nothing until the importer
    // is attached, and the importer nothing until `subscribe` is.
    let mut publ = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["publish", &src, "--wait-for-subscribers", "1"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: String = (0..50).map(|i| format!("message {i}\n")).collect();
    publ.stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let s = sub.wait_with_output().unwrap();
    let p = publ.wait_with_output().unwrap();
    assert_code(&s, 0);
    assert_code(&p, 0);
    let got: Vec<String> = String::from_utf8_lossy(&s.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["text"].as_str().unwrap().to_owned()
        })
        .collect();
    let want: Vec<String> = (0..50).map(|i| format!("message {i}")).collect();
    assert_eq!(got, want, "{}", stderr(&s));
    let (o, code) = out.terminate();
    assert_eq!(code, Some(0), "{o}");
    let (i, code) = inn.terminate();
    assert_eq!(code, Some(0), "{i}");
    assert_eq!(i["lost"].as_u64(), Some(0), "{i}");
}
