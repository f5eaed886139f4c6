//! The receiving side of a channel or a broadcast, written once: a consumer and a subscriber
//! hold their received message the same way ([`Rx`]), and `shmkit_consumer_*` /
//! `shmkit_subscriber_*` forward to it.

use std::ffi::{c_void, CString};

use shmkit::channel::{broadcast, Consumer, MessageLayout, Sample};
use shmkit::Error;

use crate::channel::misfit;
use crate::common::wait_strategy_arg;
use crate::lent::Lent;
use crate::status::*;

/// A Rust side that receives messages it lends out in place.
pub(crate) trait Receiver: Sized + 'static {
    /// Its received message.
    type Msg: Message;
    /// `"channel"` or `"broadcast"`, for messages.
    const KIND: &'static str;
    /// Receives the next message, waiting as `timeout_ns` says.
    fn recv_for(side: &'static mut Self, timeout_ns: i64) -> shmkit::Result<Self::Msg>;
    /// `set_wait_strategy`.
    fn set_wait(&mut self, w: shmkit::channel::WaitStrategy);
    /// Its object's name.
    fn object_name(&self) -> &str;
}

/// A message received in place.
pub(crate) trait Message {
    fn len(&self) -> usize;
    fn as_ptr(&self) -> *const u8;
    fn copy_to(&self, dst: &mut [u8]) -> usize;
}

impl Receiver for Consumer {
    type Msg = Sample<'static>;
    const KIND: &'static str = "channel";
    fn recv_for(side: &'static mut Self, timeout_ns: i64) -> shmkit::Result<Self::Msg> {
        match wait(timeout_ns) {
            Wait::Forever => side.recv(),
            Wait::Try => side.try_recv(),
            Wait::Within(d) => side.recv_timeout(d),
        }
    }
    fn set_wait(&mut self, w: shmkit::channel::WaitStrategy) {
        self.set_wait_strategy(w)
    }
    fn object_name(&self) -> &str {
        self.name()
    }
}

impl Message for Sample<'static> {
    fn len(&self) -> usize {
        Sample::len(self)
    }
    fn as_ptr(&self) -> *const u8 {
        Sample::as_ptr(self)
    }
    fn copy_to(&self, dst: &mut [u8]) -> usize {
        Sample::copy_to(self, dst)
    }
}

impl Receiver for broadcast::Subscriber {
    type Msg = broadcast::Sample<'static>;
    const KIND: &'static str = "broadcast";
    fn recv_for(side: &'static mut Self, timeout_ns: i64) -> shmkit::Result<Self::Msg> {
        match wait(timeout_ns) {
            Wait::Forever => side.recv(),
            Wait::Try => side.try_recv(),
            Wait::Within(d) => side.recv_timeout(d),
        }
    }
    fn set_wait(&mut self, w: shmkit::channel::WaitStrategy) {
        self.set_wait_strategy(w)
    }
    fn object_name(&self) -> &str {
        self.name()
    }
}

impl Message for broadcast::Sample<'static> {
    fn len(&self) -> usize {
        broadcast::Sample::len(self)
    }
    fn as_ptr(&self) -> *const u8 {
        broadcast::Sample::as_ptr(self)
    }
    fn copy_to(&self, dst: &mut [u8]) -> usize {
        broadcast::Sample::copy_to(self, dst)
    }
}

/// A receiving side with the message it holds, if any.
pub(crate) struct Rx<S: Receiver> {
    pub(crate) side: Lent<S, S::Msg>,
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
            side: Lent::new(side),
            kept: false,
            layout,
        }
    }

    /// The next message, held: the one a too-small `recv_into` kept, or a new one (releasing
    /// the one held), checked against a typed side's layout.
    #[inline]
    fn next(&mut self, timeout_ns: i64) -> Outcome<&mut S::Msg> {
        if self.kept && self.side.is_lent() {
            self.kept = false;
        } else {
            self.kept = false;
            self.side.lend(|side| S::recv_for(side, timeout_ns))?;
            let len = self.side.lent().map_or(0, |m| m.len());
            if let Some(l) = &self.layout {
                if len as u64 % l.size() != 0 {
                    self.side.end(drop);
                    return Err(misfit(l, &self.name, len).into());
                }
            }
        }
        Ok(self.side.lent().expect("a message is held"))
    }

    /// `recv`: the next message in place.
    #[inline]
    pub(crate) fn recv(
        &mut self,
        timeout_ns: i64,
        data: Out<*const c_void>,
        len: Out<usize>,
    ) -> Outcome {
        let m = self.next(timeout_ns)?;
        let (ptr, n) = (m.as_ptr(), m.len());
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
        if !self.side.end(drop) {
            return Err(misuse(format!(
                "{} {:?}: release without a message (call {call} first)",
                S::KIND,
                self.name
            )));
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
        let m = self.next(timeout_ns)?;
        let n = m.len();
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
        m.copy_to(&mut buf[..n]);
        self.side.end(drop);
        Ok(())
    }

    /// Whether the held message was kept by a too-small `recv_into` (it is the next one).
    pub(crate) fn is_kept(&self) -> bool {
        self.kept && self.side.is_lent()
    }

    /// The held message's length (0 if none).
    pub(crate) fn held_len(&self) -> usize {
        self.side.lent_ref().map_or(0, |m| m.len())
    }

    /// `set_wait_strategy`, refused while a message is held.
    pub(crate) fn set_wait_strategy(&mut self, wait_strategy: i32) -> Outcome {
        let w = wait_strategy_arg(wait_strategy)?;
        let (kind, name) = (S::KIND, &self.name);
        self.side
            .side()
            .ok_or_else(|| {
                misuse(format!(
                    "{kind} {name:?}: a message is held; release it first"
                ))
            })?
            .set_wait(w);
        Ok(())
    }
}
