//! The only module that calls the operating system.
//!
//! One `cfg` switch selects a backend; each backend exposes the same private items, so the rest
//! of the crate is written once (memmap2's layout):
//!
//! * `Section` — an open shared-memory object or file mapping, from which views are mapped;
//! * `shm_open`, `shm_unlink` — named segments;
//! * `file_section` — a mapping of an open `std::fs::File`;
//! * `MapRegion` — one mapped region, unmapped on drop, with `flush`;
//! * `granularity` — the alignment a mapping offset must have.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("shmkit supports Unix (Linux, macOS, the BSDs) and Windows");

/// How `shm_open` treats an existing or missing name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenHow {
    /// Fail with `AlreadyExists` if the name exists.
    Create,
    /// Fail with `NotFound` if the name does not exist.
    Open,
    /// Open the name if it exists, create it otherwise.
    OpenOrCreate,
}

/// What `shm_open` returns: the section, its size, and whether this call created it.
pub(crate) struct Opened {
    pub(crate) section: Section,
    pub(crate) len: usize,
    pub(crate) created: bool,
}
