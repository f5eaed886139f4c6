//! Machine pairs on a network of their own ([`Pair`]): each reaches the other at its address,
//! and, with a veth pair, not the host's loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

use crate::machine::{Machine, Pair};
use crate::util::{as_role, say, Running};

pub const ROLES: &[(&str, crate::Role)] =
    &[("tcp_listen", tcp_listen), ("tcp_connect", tcp_connect)];

/// Listens on `args[0]` (an address, any port), says `port <n>`, accepts one connection and
/// says `got <what it sent>`.
fn tcp_listen(args: &[String]) {
    let listener = TcpListener::bind((args[0].as_str(), 0)).expect("bind");
    say(&format!("port {}", listener.local_addr().unwrap().port()));
    let (mut conn, _) = listener.accept().expect("accept");
    let mut got = String::new();
    conn.read_to_string(&mut got).expect("read");
    say(&format!("got {got}"));
}

/// Connects to `args[0]` (`addr:port`) and sends `args[1]`; says `sent` or `refused`.
fn tcp_connect(args: &[String]) {
    match TcpStream::connect(&args[0]) {
        Ok(mut conn) => {
            conn.write_all(args[1].as_bytes()).expect("write");
            say("sent");
        }
        Err(e) => say(&format!("refused {e}")),
    }
}

fn role_in(machine: &Machine, role: &str, args: &[&str]) -> Command {
    let mut c = machine.command(std::env::current_exe().expect("current_exe"));
    as_role(&mut c, role, args);
    c
}

/// A process in `from` connects to a listener in `to` at `addr` and sends it a word.
fn assert_reaches(from: &Machine, to: &Machine, addr: &str) {
    let mut listener = Running::spawn("listener", role_in(to, "tcp_listen", &[addr]));
    let port = listener.wait_for_prefix("port ");
    let target = format!("{addr}:{port}");
    let f = Running::spawn("connect", role_in(from, "tcp_connect", &[&target, "hello"])).success();
    assert_eq!(f.stdout.last().map(String::as_str), Some("sent"), "{f:#?}");
    listener.wait_for_line("got hello");
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn the_machines_of_a_pair_reach_each_other_at_their_addresses() {
    let pair = Pair::new(7);
    assert_reaches(&pair.b, &pair.a, &pair.a_addr.to_string());
    assert_reaches(&pair.a, &pair.b, &pair.b_addr.to_string());
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
#[cfg_attr(
    all(shmkit_test_mount_ns, not(shmkit_test_veth)),
    ignore = "needs `ip` (iproute2) and veth pairs between network namespaces; or set SHMKIT_TEST_ROOT=1"
)]
fn with_a_veth_pair_b_does_not_reach_the_hosts_loopback() {
    let pair = Pair::with_veth(8).unwrap_or_else(|why| panic!("cannot make a veth pair: {why}"));
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = host.local_addr().unwrap().to_string();
    let f = Running::spawn(
        "connect from B",
        role_in(&pair.b, "tcp_connect", &[&to, "x"]),
    )
    .success();
    let said = f.stdout.last().cloned().unwrap_or_default();
    assert!(said.starts_with("refused"), "{f:#?}");
}
