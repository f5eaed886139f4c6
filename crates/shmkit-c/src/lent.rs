//! A side together with the one loan or received message that borrows it: what a C handle
//! of a publisher or subscriber holds. (A channel's producer and consumer hold their loan
//! and received message themselves, `Producer::loan_held` and `Consumer::recv_held`: no
//! `Loan` or `Sample` moves through the handle, which on the 64 B hop was a third of the C
//! API's cost over Rust's.)
//!
//! Rust ties a `Loan<'_>` or `Sample<'_>` to a `&mut` borrow of its side, so that the side
//! cannot be used (or dropped) while the loan lives. A C handle must keep both in one
//! allocation across calls, which the borrow checker cannot express: [`Lent`] keeps the side
//! on the heap behind a raw pointer (a stable address, and no `Box` whose uniqueness a
//! stored borrow would contradict) and the borrower beside it with its lifetime extended to
//! `'static`. It upholds by hand what the borrow checker would:
//!
//! * while something is lent, no other reference to the side is made ([`Lent::side`] and
//!   [`Lent::side_ref`] return `None`), so the lent `&mut` stays unique;
//! * the borrower is dropped (or consumed by `commit`) before the side: [`Lent::end`] and
//!   `Drop` end it first, and the side is freed only in `Drop`, after it;
//! * the `'static` borrow never escapes: [`Lent::lend`] stores it, and callers reach it only
//!   through `&self` ([`Lent::lent_ref`]) or consume it through [`Lent::end`].

use std::ptr::NonNull;

/// A side `S` (boxed, at a stable address) and at most one `L` borrowing it.
pub(crate) struct Lent<S: 'static, L> {
    /// What borrows the side (a loan or a sample), if anything.
    lent: Option<L>,
    /// The side, from `Box::into_raw`; freed by `Drop` after `lent`.
    side: NonNull<S>,
}

impl<S: 'static, L> Lent<S, L> {
    /// Keeps `side`, with nothing lent.
    pub(crate) fn new(side: S) -> Self {
        Lent {
            lent: None,
            side: NonNull::from(Box::leak(Box::new(side))),
        }
    }

    /// The side, if nothing borrows it.
    #[inline]
    pub(crate) fn side(&mut self) -> Option<&mut S> {
        if self.lent.is_some() {
            return None;
        }
        // SAFETY: `side` is a live allocation (freed only by `Drop`), and nothing else
        // borrows it: nothing is lent, and the returned `&mut` borrows `self` mutably.
        Some(unsafe { self.side.as_mut() })
    }

    /// The side, read only, if nothing borrows it.
    #[inline]
    pub(crate) fn side_ref(&self) -> Option<&S> {
        if self.lent.is_some() {
            return None;
        }
        // SAFETY: a live allocation, and no `&mut` to it exists: nothing is lent, and `side`
        // (the only other way to one) needs `&mut self`, which this `&self` excludes.
        Some(unsafe { self.side.as_ref() })
    }

    /// What is lent, if anything, read only.
    #[inline]
    pub(crate) fn lent_ref(&self) -> Option<&L> {
        self.lent.as_ref()
    }

    /// Lends the side to `f`, which returns its borrower (a loan, a sample) to keep. Ends
    /// whatever was lent before (drops it) first. On an error nothing is kept.
    #[inline]
    pub(crate) fn lend(
        &mut self,
        f: impl FnOnce(&'static mut S) -> shmkit::Result<L>,
    ) -> shmkit::Result<&mut L> {
        self.lent = None;
        // SAFETY: the lifetime extension this type exists for. The allocation lives until
        // `Drop`, which drops the borrower first; nothing else borrows the side now (the
        // borrower before was just dropped, and `side`/`side_ref` refuse while one is kept);
        // the `'static` reference goes only into `f`, whose result is kept in `self.lent`
        // (an error is owned data, with no borrow).
        let side: &'static mut S = unsafe { &mut *self.side.as_ptr() };
        let l = f(side)?;
        Ok(self.lent.insert(l))
    }

    /// Ends the loan or sample: `f` consumes it (`commit`, or `drop` for `abort` and
    /// `release`); false if nothing was lent.
    #[inline]
    pub(crate) fn end(&mut self, f: impl FnOnce(L)) -> bool {
        self.lent.take().map(f).is_some()
    }
}

impl<S: 'static, L> Drop for Lent<S, L> {
    fn drop(&mut self) {
        // The borrower first: it may write through its borrow as it goes (a sample's release).
        self.lent = None;
        // SAFETY: made by `Box::leak` in `new` and freed only here, once; nothing borrows it
        // any more (the borrower was just dropped).
        drop(unsafe { Box::from_raw(self.side.as_ptr()) });
    }
}
