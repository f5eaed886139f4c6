//! The C (and C++) test programs in `tests/c/`: each is compiled with the system compiler
//! (`CC`, default `cc`; `CXX`, default `c++`) against `include/` and the shared library this
//! build made, then run; it spawns its own child processes and exits 0 when every check held.
//!
//! `SHMKIT_C_VALGRIND=1` runs every program (and its children) under valgrind, failing on any
//! memory error or definite leak (`.ci/run`, "memcheck"). Windows builds these with mingw and
//! runs them under Wine from `.ci/c-wine.sh` instead: a test running under Wine cannot
//! call the Linux compiler.
#![cfg(unix)]

mod common;

use std::process::Command;

/// Compiles `tests/c/<file>` and runs it; panics with its output if either fails.
fn run(file: &str) {
    let exe = common::compile(&common::crate_dir().join("tests/c").join(file));
    let mut cmd = if std::env::var_os("SHMKIT_C_VALGRIND").is_some() {
        let mut v = Command::new("valgrind");
        v.env_remove("LD_LIBRARY_PATH");
        v.args([
            "-q",
            "--error-exitcode=99",
            "--trace-children=yes",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
        ])
        .arg(&exe);
        v
    } else {
        common::command(&exe)
    };
    let ran = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    print!("{}", String::from_utf8_lossy(&ran.stdout));
    assert!(
        ran.status.success(),
        "{file} failed ({}):\n{}{}",
        ran.status,
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
}

macro_rules! c_tests {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            run($file);
        }
    )*};
}

c_tests! {
    segments_views_and_file_mappings => "segment.c",
    the_cpp_wrapper => "cpp_wrapper.cpp",
    the_harness => "harness.c",
    the_cpp_wrapper_kinds => "cpp_kinds.cpp",
    mutex_event_semaphore => "sync.c",
    inspect_list_remove => "inspect.c",
    services => "service.c",
    wait_sets => "waitset.c",
    channels => "channel.c",
    broadcasts => "broadcast.c",
}
