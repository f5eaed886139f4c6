//! Who holds a role of an object, as the kernel sees it.
//!
//! * **Linux**: open-file-description locks (`fcntl(F_OFD_SETLK)`) on one byte per role slot
//!   of the segment's file descriptor, at `LOCK_BASE + slot` — far past the end of any segment
//!   (POSIX allows locks past the end of a file; they change nothing in it). An OFD lock
//!   belongs to the open file description, not to a pid: the kernel drops it when the last
//!   descriptor of that description closes, which a process's death does. Another process asks
//!   `F_OFD_GETLK` whether someone else holds it, without taking it. This works across pid
//!   namespaces (containers that share `/dev/shm`), cannot be fooled by a reused pid, and
//!   needs no `/proc`. A descriptor inherited over `fork` (without `exec`; shmkit opens
//!   everything close-on-exec) shares the description, so the lock then lives while either
//!   process has it open.
//! * **Other Unixes (macOS, the BSDs)**: no OFD locks (classic `fcntl` locks belong to the
//!   process and vanish when *any* of its descriptors of the file is closed, so they cannot
//!   tell two handles in one process apart). A holder is alive while its recorded pid runs:
//!   a pid reused by a new process makes a dead holder look alive until that process ends.
//!   macOS has no pid namespaces, so the container case does not arise there.

use super::Section;
#[cfg(not(target_os = "linux"))]
use crate::Error;
use crate::Result;

/// Proof that this handle holds a role slot exclusively. On Linux the lock itself lives on
/// the section's open file description; [`release`] drops it, and so does closing the section.
#[derive(Debug)]
pub(crate) struct Hold {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    slot: u32,
}

impl Hold {
    /// Whether this hold is good for generation `gen` of the role word (on Unix it is good for
    /// every generation: the lock does not depend on it).
    pub(crate) fn fits(&self, _gen: u32) -> bool {
        true
    }
}

#[cfg(target_os = "linux")]
mod ofd {
    use std::os::fd::AsRawFd;

    use super::super::Section;
    use crate::{Error, Result};

    /// Where the lock bytes start: 2^62, past the end of any segment that can be mapped.
    const LOCK_BASE: i64 = 1 << 62;

    fn flock(slot: u32, kind: i32) -> libc::flock {
        // SAFETY: `flock` is a plain C struct for which all-zeroes is a valid value (and
        // `l_pid` must be 0 for the OFD commands).
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = kind as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = LOCK_BASE + i64::from(slot);
        fl.l_len = 1;
        fl
    }

    /// `fcntl(fd, cmd, &mut fl)`: `Ok(true)` done, `Ok(false)` someone else holds the byte.
    fn fcntl(section: &Section, cmd: i32, fl: &mut libc::flock, name: &str) -> Result<bool> {
        // SAFETY: `fd` is an open descriptor owned by `section`, and `fl` a valid `flock` that
        // the call may read and (for F_OFD_GETLK) write.
        let r = unsafe { libc::fcntl(section.fd.as_raw_fd(), cmd, fl as *mut libc::flock) };
        if r == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
            _ => Err(Error::os("fcntl(F_OFD_SETLK)", name, e)),
        }
    }

    pub(crate) fn lock(section: &Section, slot: u32, exclusive: bool, name: &str) -> Result<bool> {
        let kind = if exclusive {
            libc::F_WRLCK
        } else {
            libc::F_RDLCK
        };
        fcntl(section, libc::F_OFD_SETLK, &mut flock(slot, kind), name)
    }

    pub(crate) fn unlock(section: &Section, slot: u32) {
        let _ = fcntl(
            section,
            libc::F_OFD_SETLK,
            &mut flock(slot, libc::F_UNLCK),
            "",
        );
    }

    /// Whether another open file description holds any lock on `slot`.
    pub(crate) fn locked(section: &Section, slot: u32, name: &str) -> Result<bool> {
        let mut fl = flock(slot, libc::F_WRLCK);
        fcntl(section, libc::F_OFD_GETLK, &mut fl, name)?;
        Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
    }
}

/// Takes `slot` exclusively for this handle: `Ok(None)` if another handle holds it.
/// `gen` is the generation the role word will carry (unused on Unix).
pub(crate) fn hold(section: &Section, name: &str, slot: u32, _gen: u32) -> Result<Option<Hold>> {
    #[cfg(target_os = "linux")]
    if !ofd::lock(section, slot, true, name)? {
        return Ok(None);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (section, name);
    Ok(Some(Hold { slot }))
}

/// Gives up a hold taken by [`hold`] on the same section.
pub(crate) fn release(section: &Section, hold: Hold) {
    #[cfg(target_os = "linux")]
    ofd::unlock(section, hold.slot);
    #[cfg(not(target_os = "linux"))]
    let _ = (section, hold);
}

/// Whether the holder of `slot`, whose role word carries generation `gen` and `pid`, is still
/// there. On Linux: whether another open file description holds the slot's lock (an error
/// asking counts as "there": never take over on a doubt). Elsewhere: whether `pid` runs.
pub(crate) fn holder_alive(section: &Section, name: &str, slot: u32, _gen: u32, pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let _ = pid;
        ofd::locked(section, slot, name).unwrap_or(true)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (section, name, slot);
        super::process_alive(pid)
    }
}

/// Registers this handle as one of the object's users (a shared lock on `slot`). Fails with
/// `Ok(false)` only while someone holds the slot exclusively (`shmkit gc` removing it).
pub(crate) fn join_users(section: &Section, name: &str, slot: u32) -> Result<bool> {
    #[cfg(target_os = "linux")]
    return ofd::lock(section, slot, false, name);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (section, name, slot);
        Ok(true)
    }
}

/// Whether any other handle is registered as a user: `None` where the OS cannot tell.
pub(crate) fn users_present(section: &Section, name: &str, slot: u32) -> Option<bool> {
    #[cfg(target_os = "linux")]
    return ofd::locked(section, slot, name).ok();
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (section, name, slot);
        None
    }
}

/// Takes `slot` exclusively if no handle is a user (for removing the object): the returned
/// hold keeps new users out until released. `Ok(None)` if someone uses it; `Unsupported`
/// where the OS cannot tell.
pub(crate) fn exclude_users(section: &Section, name: &str, slot: u32) -> Result<Option<Hold>> {
    #[cfg(target_os = "linux")]
    return Ok(ofd::lock(section, slot, true, name)?.then_some(Hold { slot }));
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (section, name, slot);
        Err(Error::Unsupported {
            op: "telling whether an object is in use",
            reason: "this OS has no open-file-description locks",
        })
    }
}

/// Whether the section's object still has a name (not removed since it was opened; Linux
/// tmpfs counts links, elsewhere this says yes).
pub(crate) fn still_linked(section: &Section) -> bool {
    #[cfg(target_os = "linux")]
    return rustix::fs::fstat(&section.fd).map_or(true, |st| st.st_nlink > 0);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = section;
        true
    }
}
