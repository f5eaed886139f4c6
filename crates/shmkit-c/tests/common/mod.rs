//! What the tests that build C programs share: finding the library this build made, and
//! compiling a C (or C++) file against it.
#![allow(dead_code)] // each test binary uses part of it

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding `libshmkit_c.so` (`.dylib`) of this build: beside the test binary
/// (`target/<profile>/deps`) or one up.
pub fn lib_dir() -> PathBuf {
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

/// The crate's directory.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `src` (C11, or C++17 for a `.cpp`) with the system compiler (`CC`, default `cc`;
/// `CXX`, default `c++`), warnings as errors, against `include/` and `tests/c/` and the
/// library of this build; returns the executable, in `<lib dir>/c-tests/`. Panics with the
/// compiler's output if it fails.
pub fn compile(src: &Path) -> PathBuf {
    let lib = lib_dir();
    let out_dir = lib.join("c-tests");
    std::fs::create_dir_all(&out_dir).expect("create c-tests dir");
    let exe = out_dir.join(src.file_stem().expect("stem"));
    let cpp = src.extension().is_some_and(|e| e == "cpp");
    let compiler = std::env::var(if cpp { "CXX" } else { "CC" })
        .unwrap_or_else(|_| (if cpp { "c++" } else { "cc" }).to_owned());
    let std = if cpp { "-std=c++17" } else { "-std=c11" };
    let mut cc = Command::new(&compiler);
    cc.args([std, "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-I")
        .arg(crate_dir().join("tests/c"))
        .arg(src)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lshmkit_c", "-lpthread"]);
    let built = cc.output().unwrap_or_else(|e| panic!("{compiler}: {e}"));
    assert!(
        built.status.success(),
        "{compiler} {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    exe
}

/// A command running `exe`, which finds the library by its rpath: `LD_LIBRARY_PATH` (which
/// `cargo test` sets to directories that may hold an older copy of the library, and which
/// takes precedence over a run path) is removed.
pub fn command(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env_remove("LD_LIBRARY_PATH");
    cmd
}
