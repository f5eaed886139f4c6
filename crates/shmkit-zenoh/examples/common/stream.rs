//! The checked-stream message format shared by `stream_pub` and `stream_sub`.
//!
//! A message is a 16-byte header and a payload, all little-endian:
//!
//! | bytes  | field                                               |
//! |--------|-----------------------------------------------------|
//! | 0..8   | sequence number (u64)                               |
//! | 8..12  | total message length, header included (u32)         |
//! | 12..16 | FNV-1a (32-bit) of the payload, bytes 16..len (u32) |
//! | 16..   | payload: a pseudo-random stream seeded by the sequence number |
//!
//! So a receiver can check each message on its own: its length, its checksum, and its payload
//! byte for byte, and (given the sender's size mode) that its length is the one the sender
//! chose for that sequence number, which catches messages cut or run together.

// Each example uses a part of this module.
#![allow(dead_code)]

/// Bytes of the header; the smallest message.
pub const HEADER: usize = 16;

/// The largest message the programs accept (1 MiB).
pub const MAX_SIZE: usize = 1 << 20;

/// How message lengths are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Sizes {
    /// Every message is `--size` bytes.
    Fixed,
    /// Lengths vary with the sequence number between 16 bytes and `--size`, including the
    /// edges (16, 17, size - 1, size) and lengths around powers of two.
    Mixed,
}

/// The length of message `seq` when the largest is `size` (>= HEADER).
pub fn length(sizes: Sizes, size: usize, seq: u64) -> usize {
    match sizes {
        Sizes::Fixed => size,
        Sizes::Mixed => {
            let edges = [
                HEADER,
                HEADER + 1,
                size,
                size - 1,
                64,
                4095,
                4096,
                4097,
                65536,
            ];
            let pick = seq % 12;
            let len = if (pick as usize) < edges.len() {
                edges[pick as usize]
            } else {
                // Anything in range, spread by a hash of the sequence number.
                HEADER + (splitmix(seq) as usize) % (size - HEADER + 1)
            };
            len.clamp(HEADER, size)
        }
    }
}

/// SplitMix64: a well-mixed 64-bit value from `x` (Steele, Lea and Flood, 2014).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Fills `out` with the payload of message `seq`.
pub fn fill_payload(seq: u64, out: &mut [u8]) {
    let mut state = splitmix(seq ^ 0x5348_4D4B_4954_5354); // "SHMKITST"
    for chunk in out.chunks_mut(8) {
        state = splitmix(state);
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
}

/// 32-bit FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Writes message `seq` into `msg` (its whole length).
pub fn encode(seq: u64, msg: &mut [u8]) {
    let (head, payload) = msg.split_at_mut(HEADER);
    fill_payload(seq, payload);
    head[0..8].copy_from_slice(&seq.to_le_bytes());
    head[8..12].copy_from_slice(&(msg_len(payload.len())).to_le_bytes());
    head[12..16].copy_from_slice(&fnv1a(payload).to_le_bytes());
}

fn msg_len(payload: usize) -> u32 {
    u32::try_from(payload + HEADER).expect("messages are at most 1 MiB")
}

/// What is wrong with a received message.
#[derive(Debug)]
pub enum Bad {
    /// Shorter than a header.
    Short(usize),
    /// The header's length is not the message's.
    Length { header: u32, actual: usize },
    /// The sender would have sent another length for this sequence number.
    Unexpected { expected: usize, actual: usize },
    /// The checksum does not match the payload.
    Checksum,
    /// The checksum matches, the payload is not the one for this sequence number.
    Payload,
}

/// Checks `msg`; returns its sequence number. `expect` is the sender's size mode and largest
/// size, if known. `scratch` is reused for the expected payload.
pub fn check(
    msg: &[u8],
    expect: Option<(Sizes, usize)>,
    scratch: &mut Vec<u8>,
) -> Result<u64, (Option<u64>, Bad)> {
    if msg.len() < HEADER {
        return Err((None, Bad::Short(msg.len())));
    }
    let seq = u64::from_le_bytes(msg[0..8].try_into().unwrap());
    let len = u32::from_le_bytes(msg[8..12].try_into().unwrap());
    let sum = u32::from_le_bytes(msg[12..16].try_into().unwrap());
    let bad = |b| Err((Some(seq), b));
    if len as usize != msg.len() {
        return bad(Bad::Length {
            header: len,
            actual: msg.len(),
        });
    }
    if let Some((sizes, size)) = expect {
        let expected = length(sizes, size, seq);
        if expected != msg.len() {
            return bad(Bad::Unexpected {
                expected,
                actual: msg.len(),
            });
        }
    }
    let payload = &msg[HEADER..];
    if fnv1a(payload) != sum {
        return bad(Bad::Checksum);
    }
    scratch.resize(payload.len(), 0);
    fill_payload(seq, scratch);
    if scratch[..] != *payload {
        return bad(Bad::Payload);
    }
    Ok(seq)
}
