//! The sending side of a channel or a broadcast, written once: a producer and a publisher
//! hold their loan the same way ([`Tx`]), and `shmkit_producer_*` / `shmkit_publisher_*`
//! forward to it.

use std::ffi::{c_void, CString};

use shmkit::channel::{broadcast, MessageLayout, Producer, WaitStrategy};
use shmkit::{Error, Waitable};

use crate::channel::check_len;
use crate::common::wait_strategy_arg;
use crate::status::*;

/// A Rust side that lends out room for a message, held until committed or aborted, and
/// sends copies: the producer or publisher itself ([`Producer::loan_held`],
/// [`broadcast::Publisher::loan_held`]).
pub(crate) trait Sender: Sized + 'static {
    /// `"channel"` or `"broadcast"`, for messages.
    const KIND: &'static str;
    /// Loans `len` bytes and holds the loan, waiting as `timeout_ns` says: its first byte.
    /// Only called while nothing is held; nothing is held after an error.
    fn loan_held(&mut self, len: usize, timeout_ns: i64) -> shmkit::Result<*mut u8>;
    /// The held loan's length, if one is held.
    fn held_len(&self) -> Option<usize>;
    /// Publishes the held loan's first `len` bytes (`len` at most its length).
    fn commit_held(&mut self, len: usize);
    /// Gives the held loan back unsent; false if none.
    fn abort_held(&mut self) -> bool;
    /// Sends a copy of `msg`, waiting as `timeout_ns` says (only while nothing is held).
    fn send_for(&mut self, msg: &[u8], timeout_ns: i64) -> shmkit::Result<()>;
    /// `set_wait_strategy` (only while nothing is held).
    fn set_wait(&mut self, w: WaitStrategy);
    /// Its object's name.
    fn object_name(&self) -> &str;
    /// The side to wait on in a wait set, `None` while a loan is held.
    fn waitable(&self) -> Option<&dyn Waitable>;
}

macro_rules! sender {
    ($side:ty, $kind:literal) => {
        impl Sender for $side {
            const KIND: &'static str = $kind;
            #[inline]
            fn loan_held(&mut self, len: usize, timeout_ns: i64) -> shmkit::Result<*mut u8> {
                <$side>::loan_held(self, len, deadline(timeout_ns))
            }
            #[inline]
            fn held_len(&self) -> Option<usize> {
                self.held_loan_len()
            }
            #[inline]
            fn commit_held(&mut self, len: usize) {
                <$side>::commit_held(self, len);
            }
            #[inline]
            fn abort_held(&mut self) -> bool {
                <$side>::abort_held(self)
            }
            fn send_for(&mut self, msg: &[u8], timeout_ns: i64) -> shmkit::Result<()> {
                match wait(timeout_ns) {
                    Wait::Forever => self.send(msg),
                    Wait::Try => self.try_send(msg),
                    Wait::Within(d) => self.send_timeout(msg, d),
                }
            }
            fn set_wait(&mut self, w: WaitStrategy) {
                self.set_wait_strategy(w)
            }
            fn object_name(&self) -> &str {
                self.name()
            }
            fn waitable(&self) -> Option<&dyn Waitable> {
                self.held_loan_len()
                    .is_none()
                    .then_some(self as &dyn Waitable)
            }
        }
    };
}

sender!(Producer, "channel");
sender!(broadcast::Publisher, "broadcast");

/// A sending side with its loan, if any.
pub(crate) struct Tx<S: Sender> {
    pub(crate) side: S,
    layout: Option<MessageLayout>,
    pub(crate) name: CString,
}

impl<S: Sender> Tx<S> {
    pub(crate) fn new(side: S, layout: Option<MessageLayout>) -> Self {
        Tx {
            name: c_name(side.object_name()),
            side,
            layout,
        }
    }

    /// The side, refused while a loan is outstanding.
    #[inline]
    pub(crate) fn idle(&mut self) -> Outcome<&mut S> {
        if self.side.held_len().is_some() {
            return Err(fail_with(|| {
                misuse(format!(
                    "{} {:?}: a loan is outstanding; commit or abort it first",
                    S::KIND,
                    self.name
                ))
            }));
        }
        Ok(&mut self.side)
    }

    /// `loan`: `len` bytes to write in place at `*data`.
    #[inline]
    pub(crate) fn loan(&mut self, len: usize, timeout_ns: i64, data: Out<*mut c_void>) -> Outcome {
        self.idle()?;
        check_len(self.layout.as_ref(), &self.name, len, "a loan")?;
        let ptr = self.side.loan_held(len, timeout_ns)?;
        // SAFETY: checked by `Out::new`, and the caller promises it is writable.
        unsafe { data.put(ptr.cast()) };
        Ok(())
    }

    /// `commit`: publishes the loan's first `len` bytes. Allocates nothing unless it fails
    /// (it is on every message's path).
    #[inline]
    pub(crate) fn commit(&mut self, len: usize) -> Outcome {
        let Tx { side, layout, name } = self;
        let Some(loaned) = side.held_len() else {
            return Err(fail_with(|| {
                misuse(format!(
                    "{} {name:?}: commit without a loan (call loan first)",
                    S::KIND
                ))
            }));
        };
        if len > loaned {
            return Err(fail_with(|| Error::SizeInvalid {
                name: name.to_string_lossy().into_owned(),
                reason: format!(
                    "commit of {len} bytes, more than the {loaned} loaned; the loan is still \
                     outstanding"
                ),
            }));
        }
        check_len(layout.as_ref(), name, len, "a commit")?;
        side.commit_held(len);
        Ok(())
    }

    /// `abort`: gives the loan back unsent.
    pub(crate) fn abort(&mut self) -> Outcome {
        if !self.side.abort_held() {
            return Err(misuse(format!(
                "{} {:?}: abort without a loan",
                S::KIND,
                self.name
            )));
        }
        Ok(())
    }

    /// `send`: a copy of `msg`.
    #[inline]
    pub(crate) fn send(&mut self, msg: &[u8], timeout_ns: i64) -> Outcome {
        check_len(self.layout.as_ref(), &self.name, msg.len(), "a message")?;
        self.idle()?.send_for(msg, timeout_ns)?;
        Ok(())
    }

    /// `set_wait_strategy`, refused while a loan is outstanding.
    pub(crate) fn set_wait_strategy(&mut self, wait_strategy: i32) -> Outcome {
        let w = wait_strategy_arg(wait_strategy)?;
        self.idle()?.set_wait(w);
        Ok(())
    }
}
