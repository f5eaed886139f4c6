//! Which tests that need root can run here: see `crates/shmkit/build.rs`.

#[path = "../shmkit/build.rs"]
mod tests_that_need_root;

/// The bridge tests' simulated machines: a private `/dev/shm` each, and a network of their own.
fn main() {
    tests_that_need_root::emit(&["shmkit_test_mount_ns", "shmkit_test_veth"]);
}
