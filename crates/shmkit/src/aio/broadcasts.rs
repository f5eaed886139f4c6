//! Async forms of a broadcast's publisher and subscribers, bytes and typed.

use super::*;

impl Async<broadcast::Subscriber> {
    /// Receives the next message in place: [`broadcast::Subscriber::recv`], awaiting.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`broadcast::Subscriber::recv`] (`Lagged`, `Disconnected`, `Corrupt`).
    pub fn recv(&mut self) -> impl Future<Output = Result<broadcast::Sample<'_>>> + Send + '_ {
        self.op(|s| s.try_recv())
    }

    /// Receives the next message into `buf`; as [`broadcast::Subscriber::recv_into`],
    /// awaiting. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`broadcast::Subscriber::recv`].
    pub fn recv_into<'a>(
        &'a mut self,
        buf: &'a mut Vec<u8>,
    ) -> impl Future<Output = Result<usize>> + Send + 'a {
        self.op(move |s| s.try_recv_into(buf))
    }

    timed_forms!(by_mut; recv, recv_timeout, recv_deadline () -> broadcast::Sample<'_>);
    timed_forms!(by_mut; recv_into, recv_into_timeout, recv_into_deadline (buf: &mut Vec<u8>) -> usize);
}

impl Async<broadcast::Publisher> {
    /// Loans the next slot, `len` bytes to write in place: [`broadcast::Publisher::loan`],
    /// awaiting a slot (back-pressure). Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`broadcast::Publisher::loan`].
    pub fn loan(
        &mut self,
        len: usize,
    ) -> impl Future<Output = Result<broadcast::Loan<'_>>> + Send + '_ {
        self.op(move |p| p.try_loan(len))
    }

    /// Copies `msg` into the next slot and publishes it: [`broadcast::Publisher::send`],
    /// awaiting a slot. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`broadcast::Publisher::send`].
    pub fn send<'a>(&'a mut self, msg: &'a [u8]) -> impl Future<Output = Result<()>> + Send + 'a {
        self.op(move |p| p.try_send(msg))
    }

    timed_forms!(by_mut; loan, loan_timeout, loan_deadline (len: usize) -> broadcast::Loan<'_>);
    timed_forms!(by_mut; send, send_timeout, send_deadline (msg: &[u8]) -> ());
}

typed_forms!(Subscriber, Publisher, broadcast::typed);
