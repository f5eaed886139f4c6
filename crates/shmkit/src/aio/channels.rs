//! Async forms of a channel's sides, bytes and typed.

use super::*;

impl Async<channel::Consumer> {
    /// Receives the next message in place: [`channel::Consumer::recv`], awaiting instead of
    /// blocking. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::Consumer::recv`].
    pub fn recv(&mut self) -> impl Future<Output = Result<channel::Sample<'_>>> + Send + '_ {
        self.op(|c| c.try_recv())
    }

    /// Receives the next message into `buf` (cleared first); returns its length. As
    /// [`channel::Consumer::recv_into`], awaiting. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::Consumer::recv`].
    pub fn recv_into<'a>(
        &'a mut self,
        buf: &'a mut Vec<u8>,
    ) -> impl Future<Output = Result<usize>> + Send + 'a {
        self.op(move |c| c.try_recv_into(buf))
    }

    timed_forms!(by_mut; recv, recv_timeout, recv_deadline () -> channel::Sample<'_>);
    timed_forms!(by_mut; recv_into, recv_into_timeout, recv_into_deadline (buf: &mut Vec<u8>) -> usize);
}

impl Async<channel::Producer> {
    /// Loans `len` bytes of the ring to write in place: [`channel::Producer::loan`],
    /// awaiting room. Cancellation-safe (a loan is only made in the poll that returns it).
    ///
    /// # Errors
    ///
    /// As [`channel::Producer::loan`].
    pub fn loan(
        &mut self,
        len: usize,
    ) -> impl Future<Output = Result<channel::Loan<'_>>> + Send + '_ {
        self.op(move |p| p.try_loan(len))
    }

    /// Copies `msg` into the ring and publishes it: [`channel::Producer::send`], awaiting
    /// room. Cancellation-safe: sent once the future returns `Ok`, not at all if dropped.
    ///
    /// # Errors
    ///
    /// As [`channel::Producer::send`].
    pub fn send<'a>(&'a mut self, msg: &'a [u8]) -> impl Future<Output = Result<()>> + Send + 'a {
        self.op(move |p| p.try_send(msg))
    }

    timed_forms!(by_mut; loan, loan_timeout, loan_deadline (len: usize) -> channel::Loan<'_>);
    timed_forms!(by_mut; send, send_timeout, send_deadline (msg: &[u8]) -> ());
}

typed_forms!(Consumer, Producer, channel::typed);
