//! An importer's saved state: which message of each stream it delivered last, so that a
//! restarted importer resumes exactly where its predecessor stopped.
//!
//! A raw segment `<broadcast>.zbridge` (kept when the importer exits, like its broadcast when
//! it is killed), written only by the importer that holds the broadcast's publisher role (so
//! by one process at a time):
//!
//! ```text
//!    0  8   magic "SHMKZB01"
//!    8  8   importer id (random; reused by every importer of this broadcast)
//!   16  8   pending: 1 while a message is being published
//!   24  8   pending stream
//!   32  8   pending seq
//!   40  8   pending count: the broadcast's published count before that message
//!   48  8   lost (total, all importers of this broadcast)
//!   56  8   dropped (total)
//!   64      32 entries of (stream, next, last use): the first message not yet delivered
//! ```
//!
//! Publishing message `s` of stream `t` is: write (t, s, count) then pending = 1; publish;
//! set the entry's next to s + 1; pending = 0. A restarted importer that finds pending = 1
//! asks the old broadcast how many messages it holds: more than `count` means `s` was
//! published. So a kill at any point neither loses nor repeats a message.
//!
//! The segment is the importer's own: another process that writes it can make an importer
//! resume at the wrong point (repeat or skip messages), nothing worse; every value read is
//! only a number.

use shmkit::{Access, Segment, View};

use crate::{Error, Result};

const MAGIC: [u8; 8] = *b"SHMKZB01";
const ID: usize = 8;
const PENDING: usize = 16;
const LOST: usize = 48;
const DROPPED: usize = 56;
const TABLE: usize = 64;
const ENTRIES: usize = 32;
const LEN: usize = TABLE + ENTRIES * 24;

/// One stream's entry.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    stream: u64,
    next: u64,
    used: u64,
}

/// The state segment, mapped, and a copy of its table.
pub(crate) struct State {
    view: View,
    _seg: Segment,
    table: Vec<Entry>,
    clock: u64,
}

/// The name of the state segment of broadcast `name`.
pub(crate) fn name_of(broadcast: &str) -> String {
    format!("{broadcast}.zbridge")
}

impl State {
    /// Opens the state segment of broadcast `name`, or creates it (with a new importer id and
    /// permission bits `mode`). A segment whose creator died before writing the magic (all
    /// zeros) is initialised again.
    pub(crate) fn open(broadcast: &str, mode: u32) -> Result<State> {
        let name = name_of(broadcast);
        let seg = match Segment::options()
            .size(LEN)
            .mode(mode)
            .keep(true)
            .create(&name)
        {
            Ok(seg) => seg,
            Err(shmkit::Error::AlreadyExists { .. }) => Segment::open(&name)?,
            Err(e) => return Err(e.into()),
        };
        let mut view = seg.map(Access::ReadWrite)?;
        if view.len() < LEN {
            return Err(Error::Invalid(format!(
                "{name} is not an importer's state segment (too small; remove it)"
            )));
        }
        match view.read_vec(0, 8)? {
            m if m == MAGIC => {}
            m if m == [0; 8] => {
                view.write_at(ID, &crate::wire::random_id().to_le_bytes())?;
                view.write_at(0, &MAGIC)?;
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "{name} is not an importer's state segment (remove it if it is stale)"
                )))
            }
        }
        let mut s = State {
            view,
            _seg: seg,
            table: vec![Entry::default(); ENTRIES],
            clock: 0,
        };
        for i in 0..ENTRIES {
            let e = Entry {
                stream: s.word(TABLE + 24 * i)?,
                next: s.word(TABLE + 24 * i + 8)?,
                used: s.word(TABLE + 24 * i + 16)?,
            };
            s.clock = s.clock.max(e.used);
            s.table[i] = e;
        }
        Ok(s)
    }

    fn word(&self, at: usize) -> Result<u64> {
        let mut b = [0u8; 8];
        self.view.read_at(at, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn set(&mut self, at: usize, v: u64) -> Result<()> {
        Ok(self.view.write_at(at, &v.to_le_bytes())?)
    }

    pub(crate) fn importer_id(&self) -> Result<u64> {
        self.word(ID)
    }

    /// Settles a publication a killed predecessor left pending, given how many messages its
    /// broadcast holds (`None`: the broadcast is gone, so it cannot be told; the message is
    /// taken as not delivered, which may repeat it).
    pub(crate) fn resolve(&mut self, old_count: Option<u64>) -> Result<()> {
        if self.word(PENDING)? != 1 {
            return Ok(());
        }
        let (stream, seq, count) = (
            self.word(PENDING + 8)?,
            self.word(PENDING + 16)?,
            self.word(PENDING + 24)?,
        );
        let published = old_count.is_some_and(|c| c > count);
        self.set_next(
            stream,
            if published {
                seq.saturating_add(1)
            } else {
                seq
            },
        )?;
        self.set(PENDING, 0)
    }

    /// The first message of `stream` not delivered, if this broadcast has seen the stream.
    pub(crate) fn next(&self, stream: u64) -> Option<u64> {
        self.table
            .iter()
            .find(|e| e.stream == stream && stream != 0)
            .map(|e| e.next)
    }

    /// Records that message `seq` of `stream` is about to be published as the broadcast's
    /// message number `count`.
    pub(crate) fn begin(&mut self, stream: u64, seq: u64, count: u64) -> Result<()> {
        self.set(PENDING + 8, stream)?;
        self.set(PENDING + 16, seq)?;
        self.set(PENDING + 24, count)?;
        self.set(PENDING, 1)
    }

    /// Records that every message of `stream` before `next` is done with (delivered, or
    /// counted as dropped or lost), and ends a pending publication.
    pub(crate) fn done(&mut self, stream: u64, next: u64) -> Result<()> {
        self.set_next(stream, next)?;
        self.set(PENDING, 0)
    }

    /// Records where `stream` starts (a stream seen for the first time).
    pub(crate) fn remember(&mut self, stream: u64, next: u64) -> Result<()> {
        self.set_next(stream, next)
    }

    fn set_next(&mut self, stream: u64, next: u64) -> Result<()> {
        self.clock += 1;
        let i = match self.table.iter().position(|e| e.stream == stream) {
            Some(i) => i,
            // A new stream takes the entry used longest ago.
            None => (0..ENTRIES)
                .min_by_key(|&i| self.table[i].used)
                .unwrap_or(0),
        };
        let takeover = self.table[i].stream != stream;
        self.table[i] = Entry {
            stream,
            next,
            used: self.clock,
        };
        let at = TABLE + 24 * i;
        if takeover {
            // An entry is never another stream's `next` under this stream's id, even if a kill
            // cuts this short.
            self.set(at, 0)?;
        }
        self.set(at + 8, next)?;
        self.set(at + 16, self.clock)?;
        self.set(at, stream)
    }

    pub(crate) fn totals(&self) -> Result<(u64, u64)> {
        Ok((self.word(LOST)?, self.word(DROPPED)?))
    }

    pub(crate) fn add_lost(&mut self, n: u64) -> Result<()> {
        self.set(LOST, self.word(LOST)?.saturating_add(n))
    }

    pub(crate) fn add_dropped(&mut self, n: u64) -> Result<()> {
        self.set(DROPPED, self.word(DROPPED)?.saturating_add(n))
    }
}
