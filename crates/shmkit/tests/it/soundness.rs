//! Soundness across processes: leaked guards, `?` on an owner death, sleepers killed asleep,
//! a creator's drop racing a re-created name.

use shmkit::{Access, Segment};

use crate::util::NameGuard;
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[];

#[test]
#[cfg(unix)]
fn a_creator_leaves_a_re_created_name_alone() {
    let name = NameGuard::new("recreated");
    let a = Segment::create(&name, 4096).unwrap();
    Segment::remove(&name).unwrap();
    let b = Segment::options()
        .size(4096)
        .keep(true)
        .create(&name)
        .unwrap();
    b.map(Access::ReadWrite)
        .unwrap()
        .write_at(0, b"mine")
        .unwrap();
    drop(a); // the creator of the old segment: must not remove b's name
    let seen = Segment::open(&name).expect("the re-created name survives");
    assert_eq!(
        seen.map(Access::ReadOnly).unwrap().read_vec(0, 4).unwrap(),
        b"mine"
    );
    drop(b);
}
