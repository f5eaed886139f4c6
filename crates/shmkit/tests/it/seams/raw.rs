//! Writing segments by hand, as a peer (or a hostile process) would: the layouts are those of
//! the module docs (`channel/layout.rs`, `channel/broadcast/layout.rs`, `service/mod.rs`,
//! `src/object/header.rs`).

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use crate::util::raw_view;

/// Object header: params[0..3] at 32, 40, 48.
const PARAMS: usize = 32;
/// Channel: producer line (write_pos), consumer line (read_pos), ring.
const WRITE_POS: usize = 128;
const READ_POS: usize = 256;
const RING: usize = 384;
/// Broadcast: the published count, the subscriber table (64-byte entries).
const COUNT: usize = 128;
const TABLE: usize = 384;
/// Service: the epoch, the client table (8-byte role words).
const EPOCH: usize = 72;
const CLIENTS: usize = 384;

fn u64_at(v: &shmkit::View, off: usize) -> &AtomicU64 {
    v.atomic_u64(off).unwrap()
}

/// The ring offset of the channel's read position (its capacity is params[0]).
fn head(v: &shmkit::View) -> usize {
    let cap = u64_at(v, PARAMS).load(SeqCst);
    RING + (u64_at(v, READ_POS).load(SeqCst) & (cap - 1)) as usize
}

/// Publishes a frame holding `payload` at the channel's read position (as a producer's
/// commit does), without ringing the bell.
pub fn put_frame(name: &str, payload: &[u8]) {
    let mut v = raw_view(name);
    let at = head(&v);
    v.write_at(at + 8, payload).unwrap();
    u64_at(&v, at).store(payload.len() as u64 | 1 << 32, SeqCst);
}

/// A frame header no producer writes (kind 77) at the channel's read position.
pub fn garbage_frame(name: &str) {
    let v = raw_view(name);
    u64_at(&v, head(&v)).store(77 << 32 | 8, SeqCst);
}

/// The consumer's position moved up to the producer's (everything released), without
/// ringing the producer's bell.
pub fn release_all(name: &str) {
    let v = raw_view(name);
    let w = u64_at(&v, WRITE_POS).load(SeqCst);
    u64_at(&v, READ_POS).store(w, SeqCst);
}

/// A read position no consumer writes: far ahead of the producer's.
pub fn garbage_read_pos(name: &str) {
    u64_at(&raw_view(name), READ_POS).store(u64::MAX / 2, SeqCst);
}

/// (first slot, stride, index offset, slots) of a broadcast.
fn geometry(v: &shmkit::View) -> (usize, usize, usize, u64) {
    let p = |i: usize| u64_at(v, PARAMS + 8 * i).load(SeqCst);
    let (slots, slot_size, subs) = (p(0), p(1) as usize, (p(2) & 0xffff_ffff) as usize);
    let stride = (16 + slot_size).next_multiple_of(64);
    let first = TABLE + subs * 64;
    (first, stride, first + slots as usize * stride, slots)
}

/// Publishes message `k` (the next one) of a broadcast by hand: 8 bytes `k`, its slot's
/// stamp `stamp(k)`, its index entry, then the count; rings nothing.
pub fn put_slot(name: &str, stamp: impl Fn(u64) -> u64) {
    let mut v = raw_view(name);
    let (first, stride, index, slots) = geometry(&v);
    let k = u64_at(&v, COUNT).load(SeqCst);
    let c = (k % slots) as usize;
    let at = first + c * stride;
    v.write_at(at + 16, &k.to_le_bytes()).unwrap();
    v.atomic_u32(at + 8).unwrap().store(8, SeqCst);
    u64_at(&v, at).store(stamp(k), SeqCst);
    u64_at(&v, index + c * 8).store(c as u64, SeqCst);
    u64_at(&v, COUNT).store(k + 1, SeqCst);
}

/// The one active subscriber of a broadcast has read everything (its next = the count),
/// without ringing the publisher's bell.
pub fn subscriber_caught_up(name: &str) {
    let v = raw_view(name);
    let (first, ..) = geometry(&v);
    let count = u64_at(&v, COUNT).load(SeqCst);
    let entry = (TABLE..first)
        .step_by(64)
        .find(|&e| u64_at(&v, e).load(SeqCst) & 0xff == 1)
        .expect("an active subscriber");
    u64_at(&v, entry + 8).store(count, SeqCst);
}

/// The slot of the one connected client of a service, and the 16 bytes a frame of
/// request (or response) `id` starts with for it: id, epoch, generation.
pub fn connected_slot(name: &str, id: u64) -> (usize, [u8; 16]) {
    let v = raw_view(name);
    let epoch = v.atomic_u32(EPOCH).unwrap().load(SeqCst);
    let (slot, word) = (0..16)
        .map(|i| (i, u64_at(&v, CLIENTS + 8 * i).load(SeqCst)))
        .find(|&(_, w)| w & 0xff == 1)
        .expect("a connected client");
    let gen = ((word >> 8) & 0xff_ffff) as u32;
    let mut head = [0u8; 16];
    head[..8].copy_from_slice(&id.to_le_bytes());
    head[8..12].copy_from_slice(&epoch.to_le_bytes());
    head[12..].copy_from_slice(&gen.to_le_bytes());
    (slot, head)
}

/// Adds `n` to an event's "set" flag or a semaphore's count (offset 72 of a sync object),
/// as `set` or `post` do before they wake anyone.
pub fn sync_word_add(name: &str, n: u32) {
    raw_view(name).atomic_u32(72).unwrap().fetch_add(n, SeqCst);
}
