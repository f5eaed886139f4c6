//! Interoperability with Python's `multiprocessing.shared_memory`: the same name is the same
//! memory, in both directions.

use std::process::Command;

use shmkit::{Access, Segment};

use crate::util::NameGuard;

/// Runs a Python snippet; `sys.argv[1]` is the segment name.
fn python(code: &str, name: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", code, name])
        .output()
        .expect("python3 must be installed to run the interop tests");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Python < 3.13 registers segments it merely attaches to with its resource tracker, which
/// unlinks them at exit; unregistering is the documented workaround (3.13+: `track=False`).
const ATTACH: &str = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(sys.argv[1])
try:
    resource_tracker.unregister(shm._name, "shared_memory")
except Exception:
    pass
"#;

#[test]
fn python_reads_and_writes_a_shmkit_segment() {
    let name = NameGuard::new("py1");
    let seg = Segment::create(&name, 4096).unwrap();
    let mut v = seg.map(Access::ReadWrite).unwrap();
    v.write_at(0, b"from rust").unwrap();
    let code = format!(
        "{ATTACH}\nprint(bytes(shm.buf[:9]).decode(), shm.size)\nshm.buf[100:111] = b'from python'\nshm.close()"
    );
    assert_eq!(python(&code, &name).trim(), "from rust 4096");
    assert_eq!(v.read_vec(100, 11).unwrap(), b"from python");
    // Python did not unlink it.
    assert!(Segment::open(&name).is_ok());
}

#[test]
fn shmkit_opens_a_python_segment() {
    let name = NameGuard::new("py2");
    let code = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(sys.argv[1], create=True, size=10000)
resource_tracker.unregister(shm._name, "shared_memory")
shm.buf[:11] = b'from python'
shm.close()
print("ok")
"#;
    assert_eq!(python(code, &name).trim(), "ok");
    let seg = Segment::open(&name).unwrap();
    assert!(!seg.is_creator());
    assert_eq!(seg.len(), 10000);
    assert_eq!(
        seg.map(Access::ReadOnly).unwrap().read_vec(0, 11).unwrap(),
        b"from python"
    );
}
