//! The examples in `examples/` (C and C++), built with the system compiler as `tests/c.rs`
//! builds the test programs, and run as the pairs of processes they are: the first is
//! started, then the second, which must wait for it by itself (no sleep here); both must exit
//! 0. `SHMKIT_C_VALGRIND=1` runs both under valgrind. Windows: `.ci/c-wine.sh` runs the same
//! pairs under Wine.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A command running `exe` (under valgrind when `SHMKIT_C_VALGRIND` is set).
fn command(exe: &Path) -> Command {
    if std::env::var_os("SHMKIT_C_VALGRIND").is_some() {
        let mut v = Command::new("valgrind");
        v.env_remove("LD_LIBRARY_PATH")
            .args([
                "-q",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
            ])
            .arg(exe);
        v
    } else {
        common::command(exe)
    }
}

fn expect_success(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Builds `examples/<first>` and `examples/<second>`, runs them with the same fresh name, and
/// returns their outputs.
fn run_pair(first: &str, second: &str, name: &str) -> (String, String) {
    let dir = common::crate_dir().join("examples");
    let (a, b) = (
        common::compile(&dir.join(first)),
        common::compile(&dir.join(second)),
    );
    let name = format!("{name}-{}", std::process::id());
    let started = command(&a)
        .arg(&name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", a.display()));
    let second_out = command(&b)
        .arg(&name)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", b.display()));
    let first_out = started
        .wait_with_output()
        .expect("wait for the first example");
    let out = (
        expect_success(first, &first_out),
        expect_success(second, &second_out),
    );
    print!("{}{}", out.0, out.1);
    out
}

#[test]
fn the_classic_server_and_client_on_a_segment_and_an_event_in_either_order() {
    let (server, client) = run_pair("c/server.c", "c/client.c", "c-example-mysharedmem");
    assert!(
        client.contains("client: Message from the server process."),
        "{client}"
    );
    assert!(server.contains("the client has read it"), "{server}");
    // The other order (in the same test: both build the same executables): the client waits
    // for the server's event to appear.
    let (client, server) = run_pair("c/client.c", "c/server.c", "c-example-client-first");
    assert!(
        client.contains("Message from the server process."),
        "{client}"
    );
    assert!(server.contains("the client has read it"), "{server}");
}

#[test]
fn the_cpp_typed_publisher_and_subscriber() {
    let (publisher, subscriber) =
        run_pair("cpp/typed_pub.cpp", "cpp/typed_sub.cpp", "c-example-poses");
    assert!(publisher.contains("published 100 poses"), "{publisher}");
    assert!(
        subscriber.contains("received 100 poses, the last at x = 49.5"),
        "{subscriber}"
    );
}
