//! Bridge shmkit to Zenoh.
