//! The `shmkit` command-line tool (being built).

fn main() {}
