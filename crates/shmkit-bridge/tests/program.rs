//! `shmkit-bridge` is `shmkit bridge` as a program of its own: its help lists the bridges,
//! and a wrong command line is exit status 2 with clap's message. (What the bridges do is
//! tested in crates/shmkit-cli/tests/cli/bridge.rs, through `shmkit bridge`, and in
//! crates/shmkit-zenoh.)

use std::process::Command;

fn bridge(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shmkit-bridge"))
        .args(args)
        .output()
        .expect("run shmkit-bridge")
}

#[test]
fn its_help_lists_the_bridges() {
    let out = bridge(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    for what in [
        "export",
        "import",
        "serve",
        "offer",
        "--connect",
        "--listen",
    ] {
        assert!(help.contains(what), "{what} missing from:\n{help}");
    }
}

#[test]
fn a_wrong_command_line_is_status_2() {
    let out = bridge(&["export"]); // no key, no name
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--key"),
        "{out:?}"
    );
}
