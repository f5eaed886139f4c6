//! Unix backend: POSIX `shm_open` + `ftruncate` + `mmap`, through rustix.

use std::ffi::c_void;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr;

use rustix::fs::Mode;
use rustix::io::Errno;
use rustix::mm::{MapFlags, MsyncFlags, ProtFlags};
use rustix::shm;

mod gate;
pub(crate) mod role;
mod sync;
mod wait_any;
pub(crate) use gate::*;
pub(crate) use sync::*;
pub(crate) use wait_any::*;

use super::{OpenHow, Opened};
use crate::{name, Access, Error, Result};

/// An open shared-memory object or file: a file descriptor.
#[derive(Debug)]
pub(crate) struct Section {
    fd: OwnedFd,
}

/// The alignment a mapping offset must have: the page size.
pub(crate) fn granularity() -> usize {
    rustix::param::page_size()
}

fn io(op: &'static str, name: &str, e: Errno) -> Error {
    Error::os(op, name, e.into())
}

/// Opens or creates the POSIX object `/<name>`; see [`OpenHow`].
///
/// A created object gets exactly `mode` (umask does not apply: it is set again with `fchmod`),
/// `size` bytes, and, with `reserve`, its pages reserved so that a full `/dev/shm` is reported
/// here as [`Error::NoSpace`] rather than as SIGBUS on first touch. If any step after creation
/// fails, the name is removed again, so a failed create leaves nothing behind.
pub(crate) fn shm_open(
    name: &str,
    how: OpenHow,
    writable: bool,
    size: usize,
    mode: u32,
    reserve: bool,
) -> Result<Opened> {
    let path = name::posix(name);
    if how != OpenHow::Open {
        match shm::open(
            path.as_str(),
            shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
            Mode::from_raw_mode(mode as _),
        ) {
            Ok(fd) => {
                return match init_created(&fd, name, size, mode, reserve) {
                    Ok(()) => Ok(Opened {
                        section: Section { fd },
                        len: size,
                        created: true,
                    }),
                    Err(e) => {
                        let _ = shm::unlink(path.as_str());
                        Err(e)
                    }
                };
            }
            Err(Errno::EXIST) if how == OpenHow::OpenOrCreate => {}
            Err(e) => return Err(io("shm_open", name, e)),
        }
    }
    let flags = if writable {
        shm::OFlags::RDWR
    } else {
        shm::OFlags::RDONLY
    };
    let fd = shm::open(path.as_str(), flags, Mode::empty()).map_err(|e| io("shm_open", name, e))?;
    let mut len = fd_len(&fd, name)?;
    // POSIX creates a segment empty and sizes it in a second call: an opener can slip in
    // between and see 0 bytes. Give the creator a moment before calling the segment empty.
    let mut pause = std::time::Duration::from_micros(50);
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(200);
    while len == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(10));
        len = fd_len(&fd, name)?;
    }
    Ok(Opened {
        section: Section { fd },
        len,
        created: false,
    })
}

fn init_created(fd: &OwnedFd, name: &str, size: usize, mode: u32, reserve: bool) -> Result<()> {
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode as _)).map_err(|e| io("fchmod", name, e))?;
    rustix::fs::ftruncate(fd, size as u64).map_err(|e| io("ftruncate", name, e))?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if reserve {
        if let Err(e) =
            rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), 0, size as u64)
        {
            return Err(match e {
                Errno::NOSPC | Errno::NOMEM => Error::NoSpace {
                    name: name.to_owned(),
                    requested: size as u64,
                    available: rustix::fs::fstatvfs(fd)
                        .ok()
                        .map(|s| s.f_bavail.saturating_mul(s.f_frsize)),
                },
                // A filesystem without fallocate still works; it just cannot reserve.
                Errno::OPNOTSUPP | Errno::NOSYS => return Ok(()),
                e => io("fallocate", name, e),
            });
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = reserve;
    Ok(())
}

/// The size of an open object or file, which must fit in memory.
fn fd_len(fd: &OwnedFd, name: &str) -> Result<usize> {
    let st = rustix::fs::fstat(fd).map_err(|e| io("fstat", name, e))?;
    usize::try_from(st.st_size)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| Error::size(name, format!("{} bytes do not fit in memory", st.st_size)))
}

/// Owner, permission bits and last change of an open object, as the OS records them.
pub(crate) fn owner_mode_mtime(section: &Section) -> Option<(u32, u32, std::time::SystemTime)> {
    let st = rustix::fs::fstat(&section.fd).ok()?;
    let mtime = std::time::UNIX_EPOCH
        + std::time::Duration::new(
            st.st_mtime.max(0) as u64,
            st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
        );
    Some((st.st_uid, st.st_mode as u32 & 0o7777, mtime))
}

/// The names of all POSIX shared-memory objects, where the OS can list them.
pub(crate) fn shm_list() -> Result<Vec<String>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let dir =
            std::fs::read_dir("/dev/shm").map_err(|e| Error::os("read_dir", "/dev/shm", e))?;
        Ok(dir
            .filter_map(|e| {
                let e = e.ok()?;
                e.file_type().ok()?.is_file().then_some(())?;
                e.file_name().into_string().ok()
            })
            .collect())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    Err(Error::Unsupported {
        op: "listing segments",
        reason: "this OS offers no way to enumerate POSIX shared memory objects",
    })
}

/// Removes the name `/<name>`; mappings and open handles stay valid.
pub(crate) fn shm_unlink(name: &str) -> Result<()> {
    shm::unlink(name::posix(name).as_str()).map_err(|e| io("shm_unlink", name, e))
}

/// Removes the name `/<name>` if it still names the object open as `section` (its creator's
/// handle): a name that was removed and created again by someone else is left alone.
///
/// The check and the unlink are two calls, so a name removed and re-created between them is
/// still removed: POSIX has no "unlink if this object". The window is two syscalls wide.
pub(crate) fn shm_unlink_created(name: &str, section: &Section) -> Result<()> {
    if still_names(name, section) == Some(false) {
        return Ok(());
    }
    shm_unlink(name)
}

/// Whether `name` names the object open as `section`, by device and inode: `Some(false)` if
/// it names another object or none, `None` if this OS cannot tell.
pub(crate) fn still_names(name: &str, section: &Section) -> Option<bool> {
    let mine = rustix::fs::fstat(&section.fd).ok()?;
    // Linux: the object is the file /dev/shm/<name>; stat needs no permission on it.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let now = rustix::fs::stat(format!("/dev/shm{}", name::posix(name)).as_str());
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let now = shm::open(
        name::posix(name).as_str(),
        shm::OFlags::RDONLY,
        Mode::empty(),
    )
    .and_then(|fd| rustix::fs::fstat(&fd));
    match now {
        Ok(now) if mine.st_ino == 0 && now.st_ino == 0 => None, // no inode numbers here
        Ok(now) => Some(now.st_dev == mine.st_dev && now.st_ino == mine.st_ino),
        Err(Errno::NOENT) => Some(false),
        Err(_) => None,
    }
}

/// A section over an open file (the caller has checked and sized it).
pub(crate) fn file_section(
    file: &File,
    _writable: bool,
    _len: usize,
    path: &str,
) -> Result<Section> {
    let fd = file
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::os("dup", path, e))?;
    Ok(Section { fd })
}

/// One mapped region, unmapped on drop.
#[derive(Debug)]
pub(crate) struct MapRegion {
    ptr: *mut u8,
    len: usize,
}

impl MapRegion {
    /// Maps `len` bytes of `section` at `offset` (a multiple of [`granularity`]); with
    /// `populate`, the page tables are filled now (Linux `MAP_POPULATE`) instead of by a page
    /// fault at each first touch.
    pub(crate) fn new(
        section: &Section,
        access: Access,
        offset: usize,
        len: usize,
        populate: bool,
        name: &str,
    ) -> Result<Self> {
        let (prot, mut flags) = match access {
            Access::ReadOnly => (ProtFlags::READ, MapFlags::SHARED),
            Access::ReadWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            Access::CopyOnWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if populate {
            flags |= MapFlags::POPULATE;
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = (populate, &mut flags);
        // SAFETY: a fresh mapping at an address the kernel picks (hint null) cannot alias any
        // Rust object; `offset` and `len` were checked against the section's size by the caller.
        let ptr = unsafe {
            rustix::mm::mmap(
                ptr::null_mut(),
                len,
                prot,
                flags,
                &section.fd,
                offset as u64,
            )
        }
        .map_err(|e| match e {
            Errno::NOMEM => Error::NoSpace {
                name: name.to_owned(),
                requested: len as u64,
                available: None,
            },
            e => io("mmap", name, e),
        })?;
        Ok(MapRegion {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The first mapped byte.
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Writes `len` bytes from `offset` in this region back to the file; `sync` waits for it.
    pub(crate) fn flush(
        &self,
        offset: usize,
        len: usize,
        sync: bool,
        _file: Option<&File>,
        name: &str,
    ) -> Result<()> {
        let page = granularity();
        let start = offset - offset % page;
        let flags = if sync {
            MsyncFlags::SYNC
        } else {
            MsyncFlags::ASYNC
        };
        // SAFETY: [start, offset + len) lies inside this mapping (the caller checked the range)
        // and `start` is page aligned, as msync requires; msync does not change memory.
        unsafe {
            rustix::mm::msync(
                self.ptr.add(start).cast::<c_void>(),
                offset + len - start,
                flags,
            )
        }
        .map_err(|e| io("msync", name, e))
    }
}

impl Drop for MapRegion {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, and the region is unmapped once.
        // Nothing borrows it any more: views hand out references only tied to their lifetime.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
        wait_any::unmapped();
    }
}
