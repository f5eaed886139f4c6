//! The typed producer and its loans: an uninitialised value (or slice) in the ring, which
//! only becomes committable once written.

use bytemuck::Pod;

use super::super::{spsc, WaitStrategy};
use crate::channel::typed_core::{
    self, sealed::Aligned, sealed::ByteLoan, sealed::ByteSender, typed_side,
};
use crate::sys::Deadline;
use crate::Result;

/// The sending side of a typed channel, from [`channel::typed::<T>()`](fn@crate::channel::typed).
///
/// Each message is one `T` ([`send`](typed_core::Sender::send),
/// [`loan`](typed_core::Sender::loan)) or a slice of them
/// ([`send_slice`](typed_core::Sender::send_slice), [`loan_slice`](typed_core::Sender::loan_slice)).
/// Those methods are written once for typed channels and broadcasts, on
/// [`typed_core::Sender`], which this dereferences to; the ones here are a channel's own.
/// Disconnection, waiting and liveness are the byte channel's; see
/// [`channel`](crate::channel#semantics).
pub struct Producer<T> {
    inner: typed_core::Sender<T, spsc::Producer>,
}

typed_side!(Producer => typed_core::Sender<T, spsc::Producer>);

/// A slot for one `T` in the ring, not yet written: from
/// [`Producer::loan`](typed_core::Sender::loan).
///
/// [`write`](typed_core::Loan::write) a value (or [`zeroed`](typed_core::Loan::zeroed), or fill
/// [`as_uninit`](typed_core::Loan::as_uninit) and [`assume_init`](typed_core::Loan::assume_init))
/// to get a [`Written`] loan, which alone can be committed. Dropping either publishes nothing.
pub type Loan<'a, T> = typed_core::Loan<T, spsc::Loan<'a>>;

/// A written slot for one `T`: dereferences to the value in the ring, to change it further in
/// place; [`commit`](typed_core::Written::commit) publishes it.
pub type Written<'a, T> = typed_core::Written<T, spsc::Loan<'a>>;

/// A slot for `len` values of `T` in the ring, not yet written: from
/// [`Producer::loan_slice`](typed_core::Sender::loan_slice). Becomes a [`WrittenSlice`] once
/// filled; see [`typed_core::SliceLoan`].
pub type SliceLoan<'a, T> = typed_core::SliceLoan<T, spsc::Loan<'a>>;

/// A written slice in the ring: dereferences to `[T]`;
/// [`truncate`](typed_core::WrittenSlice::truncate) it to send fewer values than were loaned,
/// then [`commit`](typed_core::WrittenSlice::commit).
pub type WrittenSlice<'a, T> = typed_core::WrittenSlice<T, spsc::Loan<'a>>;

impl<T: Pod> Producer<T> {
    pub(super) fn wrap(inner: spsc::Producer) -> Self {
        let () = super::Fits::<T>::OK;
        Producer {
            inner: typed_core::Sender::new(inner),
        }
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.inner.bytes().capacity()
    }

    /// Whether this side created the channel (and so removes its name when dropped, unless
    /// told to keep it).
    pub fn is_creator(&self) -> bool {
        self.inner.bytes().is_creator()
    }

    /// Changes how this side waits (see [`WaitStrategy`]).
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.inner.bytes_mut().set_wait_strategy(wait);
    }

    /// How this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.inner.bytes().wait_strategy()
    }
}

impl ByteSender for spsc::Producer {
    type Loan<'a> = spsc::Loan<'a>;
    const TYPED: &'static str = "Producer";

    fn name(&self) -> &str {
        spsc::Producer::name(self)
    }

    fn max_message_len(&self) -> usize {
        spsc::Producer::max_message_len(self)
    }

    #[inline]
    fn loan_until(&mut self, len: usize, deadline: Deadline) -> Result<spsc::Loan<'_>> {
        spsc::Producer::loan_until(self, len, deadline)
    }

    #[inline]
    fn send_until(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        spsc::Producer::send_until(self, msg, deadline)
    }
}

impl Aligned for spsc::Loan<'_> {
    // every ring frame, and so every payload, is 8-aligned (`spsc` module docs)
    const ALIGN: usize = 8;
}

// SAFETY: `as_mut_ptr` is the payload's start, 8-aligned and valid for writes of the loaned
// length while the loan lives; the loan borrows the producer mutably and the protocol keeps
// every reader off the payload until `commit`.
unsafe impl ByteLoan for spsc::Loan<'_> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        spsc::Loan::as_mut_ptr(self)
    }

    fn truncate(&mut self, len: usize) {
        spsc::Loan::truncate(self, len);
    }

    fn commit(self) {
        spsc::Loan::commit(self);
    }
}

impl<T> crate::wait::Sealed for Producer<T> {
    fn point(&self) -> crate::wait::Point<'_> {
        crate::wait::Sealed::point(&self.inner)
    }

    fn ready(&self) -> bool {
        crate::wait::Sealed::ready(&self.inner)
    }
}
