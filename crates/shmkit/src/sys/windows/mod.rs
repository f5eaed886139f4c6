//! Windows backend: named file mappings (`CreateFileMappingW` / `OpenFileMappingW`) backed by the
//! paging file, and views with `MapViewOfFile`, through windows-sys.

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::mem;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr;

use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_ALREADY_EXISTS, ERROR_COMMITMENT_LIMIT, ERROR_DISK_FULL,
    ERROR_NOT_ENOUGH_MEMORY, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::FlushFileBuffers;
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FlushViewOfFile, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile,
    VirtualQuery, FILE_MAP_COPY, FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION,
    MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READONLY, PAGE_READWRITE,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

pub(crate) mod role;
mod sync;
mod wait_any;
pub(crate) use sync::*;
pub(crate) use wait_any::*;

use super::{OpenHow, Opened};
use crate::{Access, Error, Result};

/// An open file-mapping object (a "section").
#[derive(Debug)]
pub(crate) struct Section {
    handle: OwnedHandle,
}

impl Section {
    fn raw(&self) -> HANDLE {
        self.handle.as_raw_handle() as HANDLE
    }
}

/// The alignment a view offset must have: the allocation granularity (64 KiB in practice).
pub(crate) fn granularity() -> usize {
    // SAFETY: SYSTEM_INFO is plain data for which all-zero is valid; GetSystemInfo fills it.
    let mut info: SYSTEM_INFO = unsafe { mem::zeroed() };
    // SAFETY: `info` is a valid, writable SYSTEM_INFO.
    unsafe { GetSystemInfo(&mut info) };
    info.dwAllocationGranularity as usize
}

pub(super) fn wide(name: &str) -> Vec<u16> {
    name.encode_utf16().chain(Some(0)).collect()
}

pub(super) fn last_error(op: &'static str, name: &str, requested: u64) -> Error {
    // SAFETY: GetLastError only reads this thread's last-error value.
    let code = unsafe { GetLastError() };
    match code {
        ERROR_COMMITMENT_LIMIT | ERROR_NOT_ENOUGH_MEMORY | ERROR_DISK_FULL => Error::NoSpace {
            name: name.to_owned(),
            requested,
            available: None,
        },
        _ => Error::os(op, name, io::Error::from_raw_os_error(code as i32)),
    }
}

/// Takes ownership of a handle returned by a Win32 call, or reports the call's error.
pub(super) fn owned(
    h: HANDLE,
    op: &'static str,
    name: &str,
    requested: u64,
) -> Result<OwnedHandle> {
    if h.is_null() || h == INVALID_HANDLE_VALUE {
        return Err(last_error(op, name, requested));
    }
    // SAFETY: `h` is a valid handle that this process just received and nobody else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(h as RawHandle) })
}

/// Opens or creates the paging-file-backed mapping named `name`; see [`OpenHow`].
///
/// `mode` has no Windows meaning: the object gets the default security descriptor of the
/// process's token (its owner, SYSTEM and administrators). `reserve` is what Windows always
/// does: the whole size is committed at creation, so a full system fails here with `NoSpace`.
pub(crate) fn shm_open(
    name: &str,
    how: OpenHow,
    writable: bool,
    size: usize,
    _mode: u32,
    _reserve: bool,
) -> Result<Opened> {
    let wname = wide(name);
    if how != OpenHow::Open {
        let size64 = size as u64;
        // SAFETY: INVALID_HANDLE_VALUE asks for a paging-file section; `wname` is NUL-terminated
        // and outlives the call; null security attributes mean the default descriptor.
        let h = unsafe {
            CreateFileMappingW(
                INVALID_HANDLE_VALUE,
                ptr::null(),
                PAGE_READWRITE,
                (size64 >> 32) as u32,
                size64 as u32,
                wname.as_ptr(),
            )
        };
        // SAFETY: read right after the call whose status it reports.
        let existed = unsafe { GetLastError() } == ERROR_ALREADY_EXISTS;
        let handle = owned(h, "CreateFileMappingW", name, size64)?;
        let section = Section { handle };
        if !existed {
            registry::record(name);
            return Ok(Opened {
                section,
                len: size,
                created: true,
            });
        }
        if how == OpenHow::Create {
            return Err(Error::AlreadyExists {
                name: name.to_owned(),
            });
        }
        // It existed: open it again with the access asked for, below, so that a read-only
        // opener holds a read-only handle.
        drop(section);
    }
    let access = if writable {
        FILE_MAP_READ | FILE_MAP_WRITE
    } else {
        FILE_MAP_READ
    };
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(access, 0, wname.as_ptr()) };
    let section = Section {
        handle: owned(h, "OpenFileMappingW", name, 0)?,
    };
    let len = section_len(&section, name)?;
    Ok(Opened {
        section,
        len,
        created: false,
    })
}

/// The size of an existing section, as Windows reports it: rounded up to a page.
fn section_len(section: &Section, name: &str) -> Result<usize> {
    let region = MapRegion::new(section, Access::ReadOnly, 0, 0, false, name)?;
    // SAFETY: MEMORY_BASIC_INFORMATION is plain data for which all-zero is valid.
    let mut info: MEMORY_BASIC_INFORMATION = unsafe { mem::zeroed() };
    // SAFETY: `region.ptr` is the base of a live view and `info` is a writable buffer of the
    // size passed.
    let n = unsafe {
        VirtualQuery(
            region.ptr.cast::<c_void>(),
            &mut info,
            mem::size_of::<MEMORY_BASIC_INFORMATION>(),
        )
    };
    if n == 0 {
        return Err(last_error("VirtualQuery", name, 0));
    }
    Ok(info.RegionSize)
}

/// Owner, mode and change time: not recorded for Windows sections.
pub(crate) fn owner_mode_mtime(_section: &Section) -> Option<(u32, u32, std::time::SystemTime)> {
    None
}

/// Windows keeps named sections in the object manager, which has no documented listing API,
/// so this lists the segments shmkit created (see [`registry`]) that still exist.
pub(crate) fn shm_list() -> Result<Vec<String>> {
    let recorded = registry::names();
    let mut names = recorded.clone();
    names.sort();
    names.dedup();
    names.retain(|n| {
        let w = wide(n);
        // SAFETY: `w` is NUL-terminated and outlives the call.
        let h = unsafe { OpenFileMappingW(FILE_MAP_READ, 0, w.as_ptr()) };
        owned(h, "OpenFileMappingW", n, 0).is_ok()
    });
    if registry::worth_compacting(recorded.len(), names.len()) {
        registry::rewrite(&registry::path(), &names);
    }
    Ok(names)
}

/// The names of the segments shmkit created on this machine, one per line in
/// `%LOCALAPPDATA%\shmkit\segments` (appended at each creation, best effort), because
/// Windows offers no way to enumerate named file mappings. `shm_list` keeps those that exist,
/// and rewrites the file with only those once most of its lines are stale (so it does not grow
/// without bound). A creation racing that rewrite can lose its line: the segment still works,
/// it is just not listed — acceptable for a listing aid, and rare (see `worth_compacting`).
mod registry {
    use std::io::Write;
    use std::path::{Path, PathBuf};

    /// Compaction starts above this many lines.
    const COMPACT_ABOVE: usize = 1024;

    pub(super) fn path() -> PathBuf {
        std::env::var_os("LOCALAPPDATA")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join("shmkit")
            .join("segments")
    }

    /// Appends `name` (failures are ignored: the registry only helps listing).
    pub(super) fn record(name: &str) {
        record_in(&path(), name);
    }

    fn record_in(p: &Path, name: &str) {
        let _ = p.parent().map(std::fs::create_dir_all);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = f.write_all(format!("{name}\n").as_bytes());
        }
    }

    /// Every name ever recorded (duplicates and names that are gone included).
    pub(super) fn names() -> Vec<String> {
        names_in(&path())
    }

    fn names_in(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .map(|s| {
                s.lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a registry of `lines` lines of which `live` names still exist should be
    /// rewritten: only when it is long and mostly stale, so that rewrites (and their race with
    /// a concurrent `record`) stay rare.
    pub(super) fn worth_compacting(lines: usize, live: usize) -> bool {
        lines > COMPACT_ABOVE && lines > 4 * live
    }

    /// Replaces the registry at `p` with `live` (through a temporary file and a rename, so a
    /// reader never sees it half written; failures are ignored).
    pub(super) fn rewrite(p: &Path, live: &[String]) {
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        let body: String = live.iter().map(|n| format!("{n}\n")).collect();
        if std::fs::write(&tmp, body).is_err() || std::fs::rename(&tmp, p).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_mostly_stale_registry_is_rewritten_with_the_live_names() {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("shmkit").join("segments");
            for i in 0..2000 {
                record_in(&p, &format!("gone-{i}"));
            }
            record_in(&p, "alive");
            let lines = names_in(&p).len();
            assert_eq!(lines, 2001);
            assert!(!worth_compacting(100, 50));
            assert!(!worth_compacting(2001, 1000));
            assert!(worth_compacting(lines, 1));
            rewrite(&p, &["alive".to_owned()]);
            assert_eq!(names_in(&p), vec!["alive".to_owned()]);
            record_in(&p, "next");
            assert_eq!(names_in(&p), vec!["alive".to_owned(), "next".to_owned()]);
        }
    }
}

/// Windows has no unlink: a mapping exists while a handle or view of it is open anywhere.
/// This checks that the name exists (so a typo is still `NotFound`) and does nothing else.
pub(crate) fn shm_unlink(name: &str) -> Result<()> {
    let wname = wide(name);
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(FILE_MAP_READ, 0, wname.as_ptr()) };
    owned(h, "OpenFileMappingW", name, 0).map(drop)
}

/// What a creator's drop does to its name: nothing, as [`shm_unlink`] (Windows has no
/// unlink; the mapping goes with its last handle).
/// Whether `name` names the object open as `section`: Windows cannot tell (`None`).
pub(crate) fn still_names(_name: &str, _section: &Section) -> Option<bool> {
    None
}

pub(crate) fn shm_unlink_created(name: &str, _section: &Section) -> Result<()> {
    shm_unlink(name)
}

/// A section over an open file of `len` bytes (the caller has checked and sized it).
pub(crate) fn file_section(file: &File, writable: bool, len: usize, path: &str) -> Result<Section> {
    let protect = if writable {
        PAGE_READWRITE
    } else {
        PAGE_READONLY
    };
    let len64 = len as u64;
    // SAFETY: the file handle is valid for the call; an unnamed mapping, default security.
    let h = unsafe {
        CreateFileMappingW(
            file.as_raw_handle() as HANDLE,
            ptr::null(),
            protect,
            (len64 >> 32) as u32,
            len64 as u32,
            ptr::null(),
        )
    };
    Ok(Section {
        handle: owned(h, "CreateFileMappingW", path, len64)?,
    })
}

/// One mapped view, unmapped on drop.
#[derive(Debug)]
pub(crate) struct MapRegion {
    ptr: *mut u8,
}

impl MapRegion {
    /// Maps `len` bytes (0: to the end) of `section` at `offset`, a multiple of [`granularity`].
    /// `populate` is a Unix hint; Windows maps lazily either way.
    pub(crate) fn new(
        section: &Section,
        access: Access,
        offset: usize,
        len: usize,
        _populate: bool,
        name: &str,
    ) -> Result<Self> {
        let want = match access {
            Access::ReadOnly => FILE_MAP_READ,
            Access::ReadWrite => FILE_MAP_READ | FILE_MAP_WRITE,
            Access::CopyOnWrite => FILE_MAP_COPY,
        };
        let off = offset as u64;
        // SAFETY: the section handle is valid; the kernel picks the address, so the view cannot
        // alias a Rust object; offset/len were checked against the section size by the caller.
        let view =
            unsafe { MapViewOfFile(section.raw(), want, (off >> 32) as u32, off as u32, len) };
        if view.Value.is_null() {
            return Err(last_error("MapViewOfFile", name, len as u64));
        }
        Ok(MapRegion {
            ptr: view.Value.cast(),
        })
    }

    /// The first mapped byte.
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Writes `len` bytes from `offset` in this view back to the file; with `sync`, also waits
    /// for the file's buffers to reach the disk (`FlushFileBuffers`).
    pub(crate) fn flush(
        &self,
        offset: usize,
        len: usize,
        sync: bool,
        file: Option<&File>,
        name: &str,
    ) -> Result<()> {
        // SAFETY: [offset, offset + len) lies inside this view (checked by the caller);
        // FlushViewOfFile does not change memory.
        let ok = unsafe { FlushViewOfFile(self.ptr.add(offset).cast::<c_void>(), len) };
        if ok == 0 {
            return Err(last_error("FlushViewOfFile", name, 0));
        }
        if let (true, Some(file)) = (sync, file) {
            // SAFETY: the handle is a valid file handle owned by `file`.
            if unsafe { FlushFileBuffers(file.as_raw_handle() as HANDLE) } == 0 {
                return Err(last_error("FlushFileBuffers", name, 0));
            }
        }
        Ok(())
    }
}

impl Drop for MapRegion {
    fn drop(&mut self) {
        // SAFETY: `ptr` is the base address MapViewOfFile returned, unmapped exactly once.
        unsafe {
            UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
                Value: self.ptr.cast(),
            })
        };
    }
}
