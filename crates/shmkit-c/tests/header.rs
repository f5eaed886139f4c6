//! `include/shmkit.h` is generated from the source; this test regenerates it and fails when
//! the committed header differs. `SHMKIT_BLESS=1 cargo test -p shmkit-c --test header`
//! rewrites it.
#![cfg(unix)] // cbindgen runs `cargo metadata`, which a test under Wine cannot.

use std::path::Path;

#[test]
fn the_committed_header_is_the_generated_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = dir.join("include/shmkit.h");
    if std::env::var_os("SHMKIT_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/shmkit.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/shmkit.h is stale: run `SHMKIT_BLESS=1 cargo test -p shmkit-c --test header` and commit it"
    );
}
