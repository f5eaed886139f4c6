//! Copies to and from memory that others may write at the same time, made of Relaxed atomic
//! loads and stores: 8-byte words where the address is 8-aligned, single bytes at the
//! unaligned ends.
//!
//! # Why not `ptr::copy_nonoverlapping`
//!
//! Two threads of one process may hold two [`View`](crate::View)s of the same segment, and copy the same bytes at once
//! from safe code. A plain copy racing with a write is a data race, which Rust's memory model
//! makes undefined behaviour even for `u8`. Atomic accesses do not race in that sense, so these
//! copies keep the safe API sound; what a racing reader gets is some mix of old and new bytes,
//! each byte (and each aligned word) one that was really written. This is the byte-wise atomic
//! memcpy of RFC 3301, written out here (about forty lines). The `atomic-memcpy` crate
//! (0.2.3, taiki-e) implements the same idea, but for one value of a fixed type `T`
//! (`atomic_load(*const T) -> MaybeUninit<T>`), not for a byte range whose length is known
//! only at run time, which is what views and slots need.
//!
//! Two limits, stated honestly:
//!
//! * Accesses of different sizes may overlap (a word here, bytes from a copy that started at
//!   another alignment). Every CPU shmkit runs on makes each access single-copy atomic at its
//!   own size, which is all a copy needs, but Rust's model does not define mixed-size races.
//! * Another process is outside Rust's model altogether; atomics are the accesses that every
//!   compiler and CPU treat as "someone else may write this", which is the best available.
//!
//! # Cost
//!
//! Measured on a 2-vCPU Intel Xeon VM (release build, medians of 15 rounds over a 2 MiB
//! segment, two runs): a bare 64-byte copy takes ~5 ns instead of
//! ~2.5 ns at an aligned offset, ~9 ns at an odd one (single bytes at both ends);
//! `View::read_at` of 64 bytes went from 7.5 to 8.3 ns (aligned) and from 7.4 to 11.5 ns
//! (offset 3). A 1 MiB copy costs 1.13–1.35× a `memcpy` (~48 µs instead of ~39 µs aligned):
//! word loads cannot be merged into vector instructions. Paths that
//! the protocol keeps free of racing writers (the SPSC ring's `send` / `recv_into`, and
//! broadcast, whose readers hold a slot before they read it) keep plain copies.

use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

const WORD: usize = 8;

/// The number of bytes from `addr` to the next 8-aligned address, at most `len`.
fn head(addr: usize, len: usize) -> usize {
    (addr.next_multiple_of(WORD) - addr).min(len)
}

/// Copies `dst.len()` bytes from `src` into `dst` with Relaxed atomic loads.
///
/// # Safety
///
/// `src` must be valid for reads of `dst.len()` bytes for the whole call, and every access to
/// those bytes that may run at the same time must be atomic (as these are) or in another
/// process. `dst` must not overlap them.
pub(crate) unsafe fn load(src: *const u8, dst: &mut [u8]) {
    let len = dst.len();
    let h = head(src as usize, len);
    let (dst_head, rest) = dst.split_at_mut(h);
    let words = rest.len() / WORD;
    let (dst_words, dst_tail) = rest.split_at_mut(words * WORD);
    for (i, d) in dst_head.iter_mut().enumerate() {
        // SAFETY: `src + i` is in bounds (caller); any address is aligned for AtomicU8, and
        // concurrent accesses are atomic (caller).
        *d = unsafe { (*src.add(i).cast::<AtomicU8>()).load(Relaxed) };
    }
    for (i, d) in dst_words.chunks_exact_mut(WORD).enumerate() {
        // SAFETY: `src + h` is 8-aligned, so every word here is an aligned, in-bounds u64.
        let w = unsafe { (*src.add(h + i * WORD).cast::<AtomicU64>()).load(Relaxed) };
        d.copy_from_slice(&w.to_ne_bytes());
    }
    let t = h + words * WORD;
    for (i, d) in dst_tail.iter_mut().enumerate() {
        // SAFETY: as for the head bytes.
        *d = unsafe { (*src.add(t + i).cast::<AtomicU8>()).load(Relaxed) };
    }
}

/// Copies `src` to `dst` with Relaxed atomic stores.
///
/// # Safety
///
/// `dst` must be valid for writes of `src.len()` bytes for the whole call, and every access to
/// those bytes that may run at the same time must be atomic or in another process. `src` must
/// not overlap them.
pub(crate) unsafe fn store(src: &[u8], dst: *mut u8) {
    let h = head(dst as usize, src.len());
    let (src_head, rest) = src.split_at(h);
    let words = rest.len() / WORD;
    let (src_words, src_tail) = rest.split_at(words * WORD);
    for (i, &b) in src_head.iter().enumerate() {
        // SAFETY: `dst + i` is in bounds and writable (caller); accesses that may run
        // concurrently are atomic (caller).
        unsafe { (*dst.add(i).cast::<AtomicU8>()).store(b, Relaxed) };
    }
    for (i, s) in src_words.chunks_exact(WORD).enumerate() {
        let w = u64::from_ne_bytes(s.try_into().expect("chunks are 8 bytes"));
        // SAFETY: `dst + h` is 8-aligned, so every word here is an aligned, in-bounds u64.
        unsafe { (*dst.add(h + i * WORD).cast::<AtomicU64>()).store(w, Relaxed) };
    }
    let t = h + words * WORD;
    for (i, &b) in src_tail.iter().enumerate() {
        // SAFETY: as for the head bytes.
        unsafe { (*dst.add(t + i).cast::<AtomicU8>()).store(b, Relaxed) };
    }
}

/// Sets `len` bytes at `dst` to `byte` with Relaxed atomic stores.
///
/// # Safety
///
/// As for [`store`], with `len` bytes.
pub(crate) unsafe fn fill(dst: *mut u8, len: usize, byte: u8) {
    let h = head(dst as usize, len);
    let words = (len - h) / WORD;
    let w = u64::from_ne_bytes([byte; WORD]);
    for i in (0..h).chain(h + words * WORD..len) {
        // SAFETY: in bounds and writable (caller); atomic.
        unsafe { (*dst.add(i).cast::<AtomicU8>()).store(byte, Relaxed) };
    }
    for i in 0..words {
        // SAFETY: `dst + h` is 8-aligned; each word is an aligned, in-bounds u64.
        unsafe { (*dst.add(h + i * WORD).cast::<AtomicU64>()).store(w, Relaxed) };
    }
}

/// Copies `len` shared bytes at `src` into the empty `buf` (which grows as needed) with
/// `memcpy`, straight into spare capacity with no zero-filling first: for bytes that the
/// protocol keeps writers away from (a ring frame or a broadcast slot being read).
///
/// # Safety
///
/// `src` is valid for reads of `len` bytes, and nobody writes them meanwhile.
pub(crate) unsafe fn load_unshared_vec(src: *const u8, len: usize, buf: &mut Vec<u8>) {
    debug_assert!(buf.is_empty());
    buf.reserve(len);
    // SAFETY: valid and not written (caller); `len` bytes fit in the spare capacity
    // (reserved) and are all written before `set_len`.
    unsafe {
        ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), len);
        buf.set_len(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_and_alignment() {
        let mut shared = vec![0u64; 8]; // 64 aligned bytes
        let base = shared.as_mut_ptr().cast::<u8>();
        for off in 0..9 {
            for len in 0..(64 - off) {
                let src: Vec<u8> = (0..len).map(|i| (i * 7 + off) as u8).collect();
                // SAFETY: `off + len <= 64` bytes of `shared`, used by this thread only.
                unsafe { fill(base, 64, 0xee) };
                // SAFETY: as above.
                unsafe { store(&src, base.add(off)) };
                let mut back = vec![0u8; len];
                // SAFETY: as above.
                unsafe { load(base.add(off), &mut back) };
                assert_eq!(back, src, "offset {off}, length {len}");
                let mut all = [0u8; 64];
                // SAFETY: as above.
                unsafe { load(base, &mut all) };
                assert!(all[..off].iter().all(|&b| b == 0xee));
                assert!(all[off + len..].iter().all(|&b| b == 0xee));
                // SAFETY: as above.
                unsafe { fill(base.add(off), len, 0x11) };
                // SAFETY: as above.
                unsafe { load(base, &mut all) };
                assert!(all[off..off + len].iter().all(|&b| b == 0x11));
                assert!(all[off + len..].iter().all(|&b| b == 0xee));
            }
        }
    }
}
