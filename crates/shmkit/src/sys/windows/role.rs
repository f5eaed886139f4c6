//! Who holds a role of an object, as the kernel sees it: on Windows, one named kernel object
//! per claim.
//!
//! The holder of generation `g` of role slot `s` of segment `foo` creates an event named
//! `foo.h<s>.<g>` (hex) and keeps its handle while it holds the role. A kernel object lives
//! exactly while some process has a handle to it, and the kernel closes a process's handles
//! when it dies, so the holder is alive while the event exists. Another process tests that
//! with `OpenEventW` and closes what it opened at once (a tester can therefore keep a dead
//! holder's event alive for the instant of its own test; the next test sees it gone). The
//! generation in the name makes it immune to pid reuse: a new holder of the slot has a new
//! generation and so a new event, whatever its pid. The pid in the role word is for display.
//!
//! Every named file mapping that exists is in use by some process — Windows frees it with its
//! last handle — so "users" are always present and nothing can be garbage-collected.

use std::os::windows::io::OwnedHandle;
use std::ptr;

use windows_sys::Win32::System::Threading::{
    CreateEventW, OpenEventW, SYNCHRONIZATION_SYNCHRONIZE,
};

use super::{owned, wide, Section};
use crate::Result;

/// This handle's claim of a role slot: the event that says its holder is alive.
#[derive(Debug)]
pub(crate) struct Hold {
    gen: u32,
    _event: OwnedHandle,
}

impl Hold {
    /// Whether this hold is the one for generation `gen` of the role word.
    pub(crate) fn fits(&self, gen: u32) -> bool {
        self.gen == gen
    }
}

fn event_name(name: &str, slot: u32, gen: u32) -> Vec<u16> {
    wide(&format!("{name}.h{slot:x}.{gen:x}"))
}

/// Creates the event of generation `gen` of `slot`; always succeeds unless the OS refuses
/// (whether the slot is free is decided by the role word and [`holder_alive`]).
pub(crate) fn hold(_section: &Section, name: &str, slot: u32, gen: u32) -> Result<Option<Hold>> {
    let w = event_name(name, slot, gen);
    // SAFETY: `w` is NUL-terminated; default security, manual reset, not signalled.
    let h = unsafe { CreateEventW(ptr::null(), 1, 0, w.as_ptr()) };
    Ok(Some(Hold {
        gen,
        _event: owned(h, "CreateEventW", name, 0)?,
    }))
}

/// Gives up a hold: closes its event.
pub(crate) fn release(_section: &Section, hold: Hold) {
    drop(hold);
}

/// Whether the holder of generation `gen` of `slot` still has its event open.
pub(crate) fn holder_alive(_section: &Section, name: &str, slot: u32, gen: u32, _pid: u32) -> bool {
    let w = event_name(name, slot, gen);
    // SAFETY: `w` is NUL-terminated; the handle, if any, is owned and closed below.
    let h = unsafe { OpenEventW(SYNCHRONIZATION_SYNCHRONIZE, 0, w.as_ptr()) };
    if h.is_null() {
        // SAFETY: reads this thread's last-error value.
        let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
        // Not found: the holder is gone. Anything else (access denied): someone has it.
        return code != windows_sys::Win32::Foundation::ERROR_FILE_NOT_FOUND;
    }
    drop(owned(h, "OpenEventW", name, 0));
    true
}

/// Users need no registration: the mapping itself lives only while someone has it open.
pub(crate) fn join_users(_section: &Section, _name: &str, _slot: u32) -> Result<bool> {
    Ok(true)
}

/// Always: a named mapping that can be opened is held open by some process.
pub(crate) fn users_present(_section: &Section, _name: &str, _slot: u32) -> Option<bool> {
    Some(true)
}

/// Never possible: see [`users_present`].
pub(crate) fn exclude_users(_section: &Section, _name: &str, _slot: u32) -> Result<Option<Hold>> {
    Ok(None)
}

/// Windows names cannot be removed, so a mapping is always linked.
pub(crate) fn still_linked(_section: &Section) -> bool {
    true
}
