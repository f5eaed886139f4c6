//! shmkit-zenoh's integration tests: one binary, a module per topic.
//!
//! Bridge tests simulate two machines on one host ([`machine::Machine`]: a mount namespace
//! with a private `/dev/shm` each), so the only way between them is the network. They need
//! root, and are ignored where they cannot run; see `machine` for `SHMKIT_TEST_ROOT`.

mod bridge;
mod machine;
mod machines;
mod network;
mod streams;
mod util;

/// A function a child process runs: it gets the parent's arguments and panics on failure
/// (exit code 101), or returns normally (exit code 0).
pub type Role = fn(&[String]);

/// Every role a child can play.
fn roles() -> impl Iterator<Item = &'static (&'static str, Role)> {
    machines::ROLES
        .iter()
        .chain(network::ROLES)
        .chain(bridge::ROLES)
}

/// The entry point of child processes; does nothing in the parent's own test run.
///
/// [`util::as_role`] runs this binary with `child_process_entry --exact` and the role in
/// `SHMKIT_TEST_CHILD_ROLE`; the role's function runs and the process exits with its outcome.
#[test]
fn child_process_entry() {
    let Ok(role) = std::env::var(util::ROLE_ENV) else {
        return;
    };
    let args = util::child_args();
    let (_, f) = roles()
        .find(|(name, _)| *name == role)
        .unwrap_or_else(|| panic!("unknown child role {role:?}"));
    f(&args);
    std::process::exit(0);
}
