//! The receiving side of a channel or a broadcast, written once: a consumer and a subscriber
//! hold their received message the same way ([`Rx`]), and `shmkit_consumer_*` /
//! `shmkit_subscriber_*` forward to it.

use std::ffi::{c_void, CString};

use shmkit::channel::{broadcast, Consumer, MessageLayout};
use shmkit::{Error, Waitable};

use crate::channel::misfit;
use crate::common::wait_strategy_arg;
use crate::status::*;

/// A Rust side that receives a message and holds it, in place, until it is released:
/// the consumer or subscriber itself ([`Consumer::recv_held`],
/// [`broadcast::Subscriber::recv_held`]).
pub(crate) trait Receiver: Sized + 'static {
    /// `"channel"` or `"broadcast"`, for messages.
    const KIND: &'static str;
    /// Receives the next message and holds it (releasing one held before), waiting as
    /// `timeout_ns` says: its first byte and length. Nothing is held after an error.
    fn recv_held(&mut self, timeout_ns: i64) -> shmkit::Result<(*const u8, usize)>;
    /// The held message, if any.
    fn held(&self) -> Option<(*const u8, usize)>;
    /// Releases the held message; false if none.
    fn release_held(&mut self) -> bool;
    /// `set_wait_strategy` (only called while nothing is held).
    fn set_wait(&mut self, w: shmkit::channel::WaitStrategy);
    /// Its object's name.
    fn object_name(&self) -> &str;
    /// The side to wait on in a wait set, `None` while a message is held.
    fn waitable(&self) -> Option<&dyn Waitable>;
}

macro_rules! receiver {
    ($side:ty, $kind:literal) => {
        impl Receiver for $side {
            const KIND: &'static str = $kind;
            #[inline]
            fn recv_held(&mut self, timeout_ns: i64) -> shmkit::Result<(*const u8, usize)> {
                <$side>::recv_held(self, deadline(timeout_ns))
            }
            #[inline]
            fn held(&self) -> Option<(*const u8, usize)> {
                <$side>::held(self)
            }
            #[inline]
            fn release_held(&mut self) -> bool {
                <$side>::release_held(self)
            }
            fn set_wait(&mut self, w: shmkit::channel::WaitStrategy) {
                self.set_wait_strategy(w)
            }
            fn object_name(&self) -> &str {
                self.name()
            }
            fn waitable(&self) -> Option<&dyn Waitable> {
                self.held().is_none().then_some(self as &dyn Waitable)
            }
        }
    };
}

receiver!(Consumer, "channel");
receiver!(broadcast::Subscriber, "broadcast");

/// A receiving side with the message it holds, if any.
pub(crate) struct Rx<S: Receiver> {
    pub(crate) side: S,
    /// The held message was received by a `recv_into` whose buffer was too small: it is
    /// delivered by the next `recv` or `recv_into`, not released by it.
    kept: bool,
    layout: Option<MessageLayout>,
    pub(crate) name: CString,
}

impl<S: Receiver> Rx<S> {
    pub(crate) fn new(side: S, layout: Option<MessageLayout>) -> Self {
        Rx {
            name: c_name(side.object_name()),
            side,
            kept: false,
            layout,
        }
    }

    /// The next message, held: the one a too-small `recv_into` kept, or a new one (releasing
    /// the one held), checked against a typed side's layout.
    #[inline]
    fn next(&mut self, timeout_ns: i64) -> Outcome<(*const u8, usize)> {
        if std::mem::take(&mut self.kept) {
            if let Some(m) = self.side.held() {
                return Ok(m);
            }
        }
        let (ptr, len) = self.side.recv_held(timeout_ns)?;
        if let Some(l) = &self.layout {
            if len as u64 % l.size() != 0 {
                self.side.release_held();
                return Err(fail_with(|| misfit(l, &self.name, len)));
            }
        }
        Ok((ptr, len))
    }

    /// `recv`: the next message in place.
    #[inline]
    pub(crate) fn recv(
        &mut self,
        timeout_ns: i64,
        data: Out<*const c_void>,
        len: Out<usize>,
    ) -> Outcome {
        let (ptr, n) = self.next(timeout_ns)?;
        // SAFETY: checked by `Out::new`, and the caller promises they are writable.
        unsafe {
            data.put(ptr.cast());
            len.put(n);
        }
        Ok(())
    }

    /// `release`: gives the held message back.
    #[inline]
    pub(crate) fn release(&mut self, call: &str) -> Outcome {
        self.kept = false;
        if !self.side.release_held() {
            return Err(fail_with(|| {
                misuse(format!(
                    "{} {:?}: release without a message (call {call} first)",
                    S::KIND,
                    self.name
                ))
            }));
        }
        Ok(())
    }

    /// `recv_into`: the next message copied into `buf`; one that does not fit is kept.
    pub(crate) fn recv_into(
        &mut self,
        buf: &mut [u8],
        len: Out<usize>,
        timeout_ns: i64,
    ) -> Outcome {
        let cap = buf.len();
        let (ptr, n) = self.next(timeout_ns)?;
        // SAFETY: checked by `Out::new`, and the caller promises it is writable.
        unsafe { len.put(n) };
        if n > cap {
            self.kept = true;
            return Err(Error::SizeInvalid {
                name: self.name.to_string_lossy().into_owned(),
                reason: format!(
                    "a message of {n} bytes does not fit a buffer of {cap}; it is kept for the \
                     next receive"
                ),
            }
            .into());
        }
        // SAFETY: the held message is `n` readable bytes in the ring, which the protocol
        // keeps the sender away from until the release below; `buf` is `n` or more bytes the
        // caller gave for this copy (not the message itself). A sender outside the protocol
        // can only make the copied bytes wrong.
        unsafe { std::ptr::copy_nonoverlapping(ptr, buf.as_mut_ptr(), n) };
        self.side.release_held();
        Ok(())
    }

    /// Whether the held message was kept by a too-small `recv_into` (it is the next one).
    pub(crate) fn is_kept(&self) -> bool {
        self.kept && self.side.held().is_some()
    }

    /// The held message's length (0 if none).
    pub(crate) fn held_len(&self) -> usize {
        self.side.held().map_or(0, |(_, n)| n)
    }

    /// `set_wait_strategy`, refused while a message is held.
    pub(crate) fn set_wait_strategy(&mut self, wait_strategy: i32) -> Outcome {
        let w = wait_strategy_arg(wait_strategy)?;
        if self.side.held().is_some() {
            return Err(misuse(format!(
                "{} {:?}: a message is held; release it first",
                S::KIND,
                self.name
            )));
        }
        self.side.set_wait(w);
        Ok(())
    }
}
