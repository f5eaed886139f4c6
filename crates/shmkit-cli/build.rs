//! Which tests that need root can run here: see `crates/shmkit/build.rs`.

#[path = "../shmkit/build.rs"]
mod tests_that_need_root;

/// `send`/`recv` across pid namespaces, and `gc` run as another user.
fn main() {
    tests_that_need_root::emit(&["shmkit_test_pid_ns", "shmkit_test_setuid"]);
}
