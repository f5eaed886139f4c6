//! The sending side of a channel or a broadcast, written once: a producer and a publisher
//! hold their loan the same way ([`Tx`]), and `shmkit_producer_*` / `shmkit_publisher_*`
//! forward to it.

use std::ffi::{c_void, CString};

use shmkit::channel::{broadcast, MessageLayout, Producer, WaitStrategy};
use shmkit::Error;

use crate::channel::check_len;
use crate::common::wait_strategy_arg;
use crate::lent::Lent;
use crate::status::*;

/// A Rust side that lends out room for a message and sends copies.
pub(crate) trait Sender: Sized + 'static {
    /// Its loan.
    type Loan: Loaned;
    /// `"channel"` or `"broadcast"`, for messages.
    const KIND: &'static str;
    /// Loans `len` bytes, waiting as `timeout_ns` says.
    fn loan_for(side: &'static mut Self, len: usize, timeout_ns: i64)
        -> shmkit::Result<Self::Loan>;
    /// Sends a copy of `msg`, waiting as `timeout_ns` says.
    fn send_for(&mut self, msg: &[u8], timeout_ns: i64) -> shmkit::Result<()>;
    /// `set_wait_strategy`.
    fn set_wait(&mut self, w: WaitStrategy);
    /// Its object's name.
    fn object_name(&self) -> &str;
}

/// A loan: room for one message, written in place.
pub(crate) trait Loaned: std::ops::DerefMut<Target = [u8]> {
    fn truncate_to(&mut self, len: usize);
    fn commit_now(self);
}

macro_rules! sender {
    ($side:ty, $loan:ty, $kind:literal) => {
        impl Sender for $side {
            type Loan = $loan;
            const KIND: &'static str = $kind;
            fn loan_for(
                side: &'static mut Self,
                len: usize,
                timeout_ns: i64,
            ) -> shmkit::Result<Self::Loan> {
                match wait(timeout_ns) {
                    Wait::Forever => side.loan(len),
                    Wait::Try => side.try_loan(len),
                    Wait::Within(d) => side.loan_timeout(len, d),
                }
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
        }

        impl Loaned for $loan {
            fn truncate_to(&mut self, len: usize) {
                self.truncate(len)
            }
            fn commit_now(self) {
                self.commit()
            }
        }
    };
}

sender!(Producer, shmkit::channel::Loan<'static>, "channel");
sender!(broadcast::Publisher, broadcast::Loan<'static>, "broadcast");

/// A sending side with its loan, if any.
pub(crate) struct Tx<S: Sender> {
    pub(crate) side: Lent<S, S::Loan>,
    layout: Option<MessageLayout>,
    pub(crate) name: CString,
}

impl<S: Sender> Tx<S> {
    pub(crate) fn new(side: S, layout: Option<MessageLayout>) -> Self {
        Tx {
            name: c_name(side.object_name()),
            side: Lent::new(side),
            layout,
        }
    }

    /// The side, refused while a loan is outstanding.
    #[inline]
    pub(crate) fn idle(&mut self) -> Outcome<&mut S> {
        let (kind, name) = (S::KIND, &self.name);
        self.side.side().ok_or_else(|| {
            misuse(format!(
                "{kind} {name:?}: a loan is outstanding; commit or abort it first"
            ))
        })
    }

    /// `loan`: `len` bytes to write in place at `*data`.
    #[inline]
    pub(crate) fn loan(&mut self, len: usize, timeout_ns: i64, data: Out<*mut c_void>) -> Outcome {
        self.idle()?;
        check_len(self.layout.as_ref(), &self.name, len, "a loan")?;
        let loan = self.side.lend(|side| S::loan_for(side, len, timeout_ns))?;
        let ptr = loan.as_mut_ptr();
        // SAFETY: checked by `Out::new`, and the caller promises it is writable.
        unsafe { data.put(ptr.cast()) };
        Ok(())
    }

    /// `commit`: publishes the loan's first `len` bytes. Allocates nothing unless it fails
    /// (it is on every message's path).
    #[inline]
    pub(crate) fn commit(&mut self, len: usize) -> Outcome {
        let Tx { side, layout, name } = self;
        let Some(loan) = side.lent() else {
            return Err(misuse(format!(
                "{} {name:?}: commit without a loan (call loan first)",
                S::KIND
            )));
        };
        if len > loan.len() {
            return Err(Error::SizeInvalid {
                name: name.to_string_lossy().into_owned(),
                reason: format!(
                    "commit of {len} bytes, more than the {} loaned; the loan is still outstanding",
                    loan.len()
                ),
            }
            .into());
        }
        check_len(layout.as_ref(), name, len, "a commit")?;
        side.end(|mut loan| {
            loan.truncate_to(len);
            loan.commit_now();
        });
        Ok(())
    }

    /// `abort`: gives the loan back unsent.
    pub(crate) fn abort(&mut self) -> Outcome {
        if !self.side.end(drop) {
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
