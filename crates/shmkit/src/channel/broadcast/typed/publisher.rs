//! The typed publisher and its loans: an uninitialised value (or slice) in a slot, which only
//! becomes committable once written.

use bytemuck::Pod;

use super::super::layout::PAYLOAD_ALIGN;
use super::super::{self as bytes, Policy};
use crate::channel::typed_core::{
    self, sealed::Aligned, sealed::ByteLoan, sealed::ByteSender, typed_side,
};
use crate::sys::Deadline;
use crate::Result;

/// The publishing side of a typed broadcast, from
/// [`broadcast::typed::<T>()`](fn@crate::channel::broadcast::typed).
///
/// Each message is one `T` ([`send`](typed_core::Sender::send),
/// [`loan`](typed_core::Sender::loan)) or a slice of them
/// ([`send_slice`](typed_core::Sender::send_slice), [`loan_slice`](typed_core::Sender::loan_slice)),
/// published to every subscriber. Those methods are written once for typed channels and
/// broadcasts, on [`typed_core::Sender`], which this dereferences to; the ones here are a
/// broadcast's own. Waiting, policies and liveness are the byte broadcast's; see
/// [`broadcast`](crate::channel::broadcast#policies).
pub struct Publisher<T> {
    inner: typed_core::Sender<T, bytes::Publisher>,
}

typed_side!(Publisher => typed_core::Sender<T, bytes::Publisher>);

impl<T> crate::wait::Sealed for Publisher<T> {
    fn point(&self) -> crate::wait::Point<'_> {
        crate::wait::Sealed::point(&self.inner)
    }

    fn ready(&self) -> bool {
        crate::wait::Sealed::ready(&self.inner)
    }
}

/// A slot for one `T`, not yet written: from [`Publisher::loan`](typed_core::Sender::loan).
///
/// [`write`](typed_core::Loan::write) a value (or [`zeroed`](typed_core::Loan::zeroed), or fill
/// [`as_uninit`](typed_core::Loan::as_uninit) and [`assume_init`](typed_core::Loan::assume_init))
/// to get a [`Written`] loan, which alone can be committed. Dropping either publishes nothing.
pub type Loan<'a, T> = typed_core::Loan<T, bytes::Loan<'a>>;

/// A written slot for one `T`: dereferences to the value in the slot, to change it further in
/// place; [`commit`](typed_core::Written::commit) publishes it to every subscriber.
pub type Written<'a, T> = typed_core::Written<T, bytes::Loan<'a>>;

/// A slot for `len` values of `T`, not yet written: from
/// [`Publisher::loan_slice`](typed_core::Sender::loan_slice). Becomes a [`WrittenSlice`] once
/// filled; see [`typed_core::SliceLoan`].
pub type SliceLoan<'a, T> = typed_core::SliceLoan<T, bytes::Loan<'a>>;

/// A written slice in a slot: dereferences to `[T]`;
/// [`truncate`](typed_core::WrittenSlice::truncate) it to send fewer values than were loaned,
/// then [`commit`](typed_core::WrittenSlice::commit).
pub type WrittenSlice<'a, T> = typed_core::WrittenSlice<T, bytes::Loan<'a>>;

impl<T: Pod> Publisher<T> {
    pub(super) fn wrap(inner: bytes::Publisher) -> Self {
        let () = super::Fits::<T>::OK;
        Publisher {
            inner: typed_core::Sender::new(inner),
        }
    }

    /// What happens to a subscriber that falls a whole ring behind.
    pub fn policy(&self) -> Policy {
        self.inner.bytes().policy()
    }

    /// Changes how this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn set_wait_strategy(&mut self, wait: crate::channel::WaitStrategy) {
        self.inner.bytes_mut().set_wait_strategy(wait);
    }

    /// How this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.inner.bytes().wait_strategy()
    }

    /// How many subscribers are attached now; see
    /// [`broadcast::Publisher::subscribers`](crate::channel::broadcast::Publisher::subscribers).
    pub fn subscribers(&self) -> usize {
        self.inner.bytes().subscribers()
    }

    /// Waits until at least `n` subscribers are attached; see
    /// [`broadcast::Publisher::wait_for_subscribers`](crate::channel::broadcast::Publisher::wait_for_subscribers).
    ///
    /// # Errors
    ///
    /// As the byte publisher's.
    pub fn wait_for_subscribers(&self, n: usize) -> crate::Result<usize> {
        self.inner.bytes().wait_for_subscribers(n)
    }

    /// [`Publisher::wait_for_subscribers`] without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`](crate::Error::WouldBlock) if fewer than `n` are attached.
    pub fn try_wait_for_subscribers(&self, n: usize) -> crate::Result<usize> {
        self.inner.bytes().try_wait_for_subscribers(n)
    }

    /// [`Publisher::wait_for_subscribers`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`](crate::Error::Timeout) if fewer than `n` are attached by then.
    pub fn wait_for_subscribers_timeout(
        &self,
        n: usize,
        timeout: std::time::Duration,
    ) -> crate::Result<usize> {
        self.inner.bytes().wait_for_subscribers_timeout(n, timeout)
    }

    /// [`Publisher::wait_for_subscribers`] waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`](crate::Error::Timeout) if fewer than `n` are attached by then.
    pub fn wait_for_subscribers_deadline(
        &self,
        n: usize,
        deadline: std::time::Instant,
    ) -> crate::Result<usize> {
        self.inner
            .bytes()
            .wait_for_subscribers_deadline(n, deadline)
    }

    /// How many messages have been published; see
    /// [`broadcast::Publisher::published`](crate::channel::broadcast::Publisher::published).
    pub fn published(&self) -> u64 {
        self.inner.bytes().published()
    }
}

impl ByteSender for bytes::Publisher {
    type Loan<'a> = bytes::Loan<'a>;
    const TYPED: &'static str = "Publisher";

    fn name(&self) -> &str {
        bytes::Publisher::name(self)
    }

    fn max_message_len(&self) -> usize {
        bytes::Publisher::max_message_len(self)
    }

    #[inline]
    fn loan_until(&mut self, len: usize, deadline: Deadline) -> Result<bytes::Loan<'_>> {
        bytes::Publisher::loan_until(self, len, deadline)
    }

    #[inline]
    fn send_until(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        bytes::Publisher::send_until(self, msg, deadline)
    }
}

impl Aligned for bytes::Loan<'_> {
    // every slot payload is `PAYLOAD_ALIGN` (16)-aligned (`broadcast::layout`)
    const ALIGN: usize = PAYLOAD_ALIGN;
}

// SAFETY: `as_mut_ptr` is the slot payload's start, `PAYLOAD_ALIGN`-aligned and valid for
// writes of the loaned length (at most the slot size) while the loan lives; the loan borrows
// the publisher mutably and the slot protocol keeps every subscriber off the slot until
// `commit`.
unsafe impl ByteLoan for bytes::Loan<'_> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        bytes::Loan::as_mut_ptr(self)
    }

    fn truncate(&mut self, len: usize) {
        bytes::Loan::truncate(self, len);
    }

    fn commit(self) {
        bytes::Loan::commit(self);
    }
}
