//! What a bridge adds to what Zenoh carries: a fixed header in each sample's attachment, the
//! importer's acknowledgements, and the exporter's tail (where its stream has got to). The
//! payload of a data sample is the message, byte for byte.
//!
//! ```text
//! data attachment (40 bytes, little-endian), on every sample an exporter puts on <key>:
//!    0  u32  magic "SHZ1"
//!    4  u16  version (1)
//!    6  u16  flags: bit 0 = the exporter runs Block (it keeps unacknowledged messages)
//!    8  u64  stream: the exporter's incarnation (random, new for each exporter)
//!   16  u64  seq: the message's number in the stream (0, 1, 2, ... with no gaps)
//!   24  u64  first: the oldest seq the exporter can still send again (Block; = seq for Drop)
//!   32  u64  fingerprint of the message layout (0: bytes; see shmkit::channel::MessageLayout)
//!
//! acknowledgement (32 bytes), put by an importer on <sample key>/@shmkit/ack:
//!    0  u32  magic "SHA1"
//!    4  u16  version (1)
//!    6  u16  flags: bit 0 = resume (send again from `next`); bit 1 = busy (the importer is
//!            waiting for room in its local broadcast: what it has not acknowledged is not lost);
//!            bit 2 = bye (the importer stops: the exporter forgets it)
//!    8  u64  importer id (random, kept across restarts of the importer)
//!   16  u64  stream
//!   24  u64  next: the first seq this importer has not delivered locally; u64::MAX
//!            ("hello"): it has received nothing of the stream yet, send it what comes
//!
//! tail (32 bytes, the payload), put by an exporter on <key>/@shmkit/tail/<stream as 16 hex
//! digits> every second while it puts no data (once it has taken a message) and once when it
//! stops (then with first = next), and the reply of its queryable on that key (asked by an
//! importer when the exporter's liveliness token appears: on the importer's start, and after
//! a reconnect):
//!    0  u32  magic "SHT1"
//!    4  u16  version (1)
//!    6  u16  flags: bit 0 = the exporter runs Block
//!    8  u64  stream
//!   16  u64  next: one past the last seq the exporter has taken (Drop: put or dropped;
//!            Block: put); an importer whose next is lower missed the rest
//!   24  u64  first: the oldest seq the exporter can still send again (Block; = next for Drop)
//! ```
//!
//! The tail was added without a version change: an older importer does not subscribe to it
//! and an older exporter neither sends nor answers it (an importer then learns of missed
//! messages from later ones only, as before).
//!
//! Everything read here comes from the network: decoding checks lengths, magic and version
//! and returns `None` for anything else (the caller counts it as refused).

/// Attachment magic of a data sample.
const DATA_MAGIC: u32 = u32::from_le_bytes(*b"SHZ1");
/// Magic of an acknowledgement.
const ACK_MAGIC: u32 = u32::from_le_bytes(*b"SHA1");
/// Magic of a tail.
const TAIL_MAGIC: u32 = u32::from_le_bytes(*b"SHT1");
/// The wire version both carry.
pub(crate) const VERSION: u16 = 1;
/// Data flag: the exporter keeps unacknowledged messages (Block).
pub(crate) const FLAG_BLOCK: u16 = 1;
/// Ack flag: the importer asks for everything from `next` again.
pub(crate) const FLAG_RESUME: u16 = 1;
/// Ack flag: the importer is waiting for room in its local broadcast.
pub(crate) const FLAG_BUSY: u16 = 2;
/// Ack flag: the importer is stopping (cleanly): stop keeping messages for it.
pub(crate) const FLAG_BYE: u16 = 4;
/// An ack's `next` from an importer that has received nothing of the stream yet.
pub(crate) const NEXT_ANY: u64 = u64::MAX;
/// Bytes of a data attachment.
#[cfg(test)]
const DATA_LEN: usize = 40;
/// Bytes of an acknowledgement.
#[cfg(test)]
const ACK_LEN: usize = 32;
/// Bytes of a tail.
#[cfg(test)]
const TAIL_LEN: usize = 32;

/// The chunk after the user's key under which bridges talk to each other (verbatim chunks,
/// `@...`, are never matched by wildcards, so a `demo/**` subscriber does not see them).
pub(crate) const CONTROL: &str = "@shmkit";

/// A data sample's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Data {
    pub(crate) flags: u16,
    pub(crate) stream: u64,
    pub(crate) seq: u64,
    pub(crate) first: u64,
    pub(crate) fingerprint: u64,
}

/// An importer's acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ack {
    pub(crate) flags: u16,
    pub(crate) importer: u64,
    pub(crate) stream: u64,
    pub(crate) next: u64,
}

/// An exporter's tail: where its stream has got to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    pub(crate) flags: u16,
    pub(crate) stream: u64,
    pub(crate) next: u64,
    pub(crate) first: u64,
}

fn head(magic: u32, flags: u16) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&magic.to_le_bytes());
    b[4..6].copy_from_slice(&VERSION.to_le_bytes());
    b[6..8].copy_from_slice(&flags.to_le_bytes());
    b
}

fn words<const N: usize>(head: [u8; 8], w: [u64; N]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + 8 * N);
    b.extend_from_slice(&head);
    for x in w {
        b.extend_from_slice(&x.to_le_bytes());
    }
    b
}

/// The flags and `N` words after a header of `magic`, if `b` is exactly that.
fn parse<const N: usize>(b: &[u8], magic: u32) -> Option<(u16, [u64; N])> {
    if b.len() != 8 + 8 * N || b[..4] != magic.to_le_bytes() || b[4..6] != VERSION.to_le_bytes() {
        return None;
    }
    let flags = u16::from_le_bytes([b[6], b[7]]);
    let mut w = [0u64; N];
    for (i, x) in w.iter_mut().enumerate() {
        *x = u64::from_le_bytes(b[8 + 8 * i..16 + 8 * i].try_into().ok()?);
    }
    Some((flags, w))
}

impl Data {
    pub(crate) fn encode(&self) -> Vec<u8> {
        words(
            head(DATA_MAGIC, self.flags),
            [self.stream, self.seq, self.first, self.fingerprint],
        )
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Data> {
        let (flags, [stream, seq, first, fingerprint]) = parse(b, DATA_MAGIC)?;
        // `seq + 1` must exist (it is the next message); `first` is at most `seq`.
        (first <= seq && seq < NEXT_ANY).then_some(Data {
            flags,
            stream,
            seq,
            first,
            fingerprint,
        })
    }
}

impl Ack {
    pub(crate) fn encode(&self) -> Vec<u8> {
        words(
            head(ACK_MAGIC, self.flags),
            [self.importer, self.stream, self.next],
        )
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Ack> {
        let (flags, [importer, stream, next]) = parse(b, ACK_MAGIC)?;
        Some(Ack {
            flags,
            importer,
            stream,
            next,
        })
    }
}

impl Tail {
    pub(crate) fn encode(&self) -> Vec<u8> {
        words(
            head(TAIL_MAGIC, self.flags),
            [self.stream, self.next, self.first],
        )
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Tail> {
        let (flags, [stream, next, first]) = parse(b, TAIL_MAGIC)?;
        // `first` is at most `next`, and `next` is a seq an importer can hold.
        (first <= next && next < NEXT_ANY).then_some(Tail {
            flags,
            stream,
            next,
            first,
        })
    }
}

/// `<key>/@shmkit/tail/<stream>`: where an exporter of `key` puts and answers its tail.
pub(crate) fn tail_key(key: &str, stream: u64) -> String {
    control_key(key, &format!("tail/{stream:016x}"))
}

/// `<key>/@shmkit/<what>`.
pub(crate) fn control_key(key: &str, what: &str) -> String {
    format!("{key}/{CONTROL}/{what}")
}

/// A random 64-bit id (stream and importer ids): not secret, only unlikely to repeat.
pub(crate) fn random_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_reject_anything_else() {
        let d = Data {
            flags: FLAG_BLOCK,
            stream: 7,
            seq: 9,
            first: 3,
            fingerprint: 0xfeed,
        };
        let b = d.encode();
        assert_eq!(b.len(), DATA_LEN);
        assert_eq!(Data::decode(&b), Some(d));
        assert_eq!(Data::decode(&b[..DATA_LEN - 1]), None);
        let mut bad = b.clone();
        bad[4] = 2; // another version
        assert_eq!(Data::decode(&bad), None);
        let first_after_seq = Data { first: 10, ..d }.encode();
        assert_eq!(Data::decode(&first_after_seq), None);
        let a = Ack {
            flags: FLAG_RESUME,
            importer: 1,
            stream: 7,
            next: 10,
        };
        assert_eq!(a.encode().len(), ACK_LEN);
        assert_eq!(Ack::decode(&a.encode()), Some(a));
        assert_eq!(Ack::decode(&b), None, "a data header is not an ack");
        let t = Tail {
            flags: 0,
            stream: 7,
            next: 10,
            first: 10,
        };
        assert_eq!(t.encode().len(), TAIL_LEN);
        assert_eq!(Tail::decode(&t.encode()), Some(t));
        assert_eq!(Tail::decode(&a.encode()), None, "an ack is not a tail");
        assert_eq!(Tail::decode(&Tail { first: 11, ..t }.encode()), None);
        assert_eq!(
            Tail::decode(
                &Tail {
                    next: NEXT_ANY,
                    ..t
                }
                .encode()
            ),
            None
        );
        assert_eq!(
            tail_key("lab/cam", 7),
            "lab/cam/@shmkit/tail/0000000000000007"
        );
        assert_ne!(random_id(), random_id());
    }
}
