//! The C (and C++) test programs in `tests/c/`: each is compiled with the system compiler
//! (`CC`, default `cc`; `CXX`, default `c++`) against `include/` and the shared library this
//! build made, then run; it spawns its own child processes and exits 0 when every check held.
//!
//! `SHMKIT_C_VALGRIND=1` runs every program (and its children) under valgrind, failing on any
//! memory error or definite leak (`.ci/run`, "memcheck"). Windows builds these with mingw and
//! runs them under Wine from `.ci/windows-wine.sh` instead: a test running under Wine cannot
//! call the Linux compiler.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding `libshmkit_c.so` (`.dylib`) of this build: beside the test binary
/// (`target/<profile>/deps`) or one up.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    let file = if cfg!(target_os = "macos") {
        "libshmkit_c.dylib"
    } else {
        "libshmkit_c.so"
    };
    let found = [deps, deps.parent().expect("profile dir")]
        .into_iter()
        .find(|d| d.join(file).exists())
        .map(Path::to_path_buf);
    found.unwrap_or_else(|| panic!("{file} not found beside {}", exe.display()))
}

/// Compiles `tests/c/<file>` and runs it; panics with its output if either fails.
fn run(file: &str) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = crate_dir.join("tests/c").join(file);
    let lib = lib_dir();
    let out_dir = lib.join("c-tests");
    std::fs::create_dir_all(&out_dir).expect("create c-tests dir");
    let exe = out_dir.join(Path::new(file).file_stem().expect("stem"));
    let cpp = file.ends_with(".cpp");
    let compiler = std::env::var(if cpp { "CXX" } else { "CC" })
        .unwrap_or_else(|_| (if cpp { "c++" } else { "cc" }).to_owned());
    let std = if cpp { "-std=c++17" } else { "-std=c11" };
    let mut cc = Command::new(&compiler);
    cc.args([std, "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"])
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg("-I")
        .arg(crate_dir.join("tests/c"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lshmkit_c", "-lpthread"]);
    let built = cc.output().unwrap_or_else(|e| panic!("{compiler}: {e}"));
    assert!(
        built.status.success(),
        "{compiler} {file} failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let mut cmd = if std::env::var_os("SHMKIT_C_VALGRIND").is_some() {
        let mut v = Command::new("valgrind");
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
        Command::new(&exe)
    };
    // `cargo test` puts target/<profile> on the library path, ahead of the run path linked
    // in: a libshmkit_c there left by an earlier `cargo build` would be loaded instead of
    // this build's. Put this build's first.
    let var = if cfg!(target_os = "macos") {
        "DYLD_LIBRARY_PATH"
    } else {
        "LD_LIBRARY_PATH"
    };
    let mut paths = vec![lib.clone()];
    paths.extend(std::env::var_os(var).iter().flat_map(std::env::split_paths));
    cmd.env(
        var,
        std::env::join_paths(paths).expect("library path without separators"),
    );
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
}
