//! shmkit's integration tests: one binary, a module per topic. Cross-process tests re-execute
//! this binary as a child (see `util`), so every sharing test involves real processes.

#[cfg(feature = "tokio")]
mod aio;
mod broadcast;
mod broadcast_zero_copy;
mod channel;
mod channel_headers;
mod convention;
mod counters;
mod examples;
mod file;
mod forms;
mod liveness;
mod names;
mod open_wait;
mod options;
#[cfg(unix)]
mod python;
mod seams;
mod segment;
mod service;
mod soundness;
mod sync;
mod typed;
mod typed_broadcast;
mod typed_common;
mod util;
mod waitset;
mod waitset_service;

/// A function a child process runs: it gets the parent's arguments and panics on failure
/// (exit code 101), or returns normally (exit code 0).
pub type Role = fn(&[String]);

/// Every role a child can play, from every module.
fn roles() -> impl Iterator<Item = &'static (&'static str, Role)> {
    let aio: &[(&str, Role)] = {
        #[cfg(feature = "tokio")]
        {
            aio::ROLES
        }
        #[cfg(not(feature = "tokio"))]
        {
            &[]
        }
    };
    segment::ROLES
        .iter()
        .chain(aio)
        .chain(file::ROLES)
        .chain(forms::ROLES)
        .chain(sync::ROLES)
        .chain(channel::ROLES)
        .chain(broadcast::ROLES)
        .chain(broadcast_zero_copy::ROLES)
        .chain(counters::ROLES)
        .chain(liveness::ROLES)
        .chain(options::ROLES)
        .chain(open_wait::ROLES)
        .chain(soundness::ROLES)
        .chain(seams::ROLES)
        .chain(service::ROLES)
        .chain(typed::ROLES)
        .chain(typed_broadcast::ROLES)
        .chain(util::ROLES)
        .chain(waitset::ROLES)
        .chain(waitset_service::ROLES)
}

/// The entry point of child processes; does nothing in the parent's own test run.
///
/// `util::spawn` runs this binary with `child_process_entry --exact` and the role in
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
