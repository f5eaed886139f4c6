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

    /// Like [`Async::<channel::Consumer>::recv_into`], giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As [`channel::Consumer::recv`], and [`Error::Timeout`].
    pub async fn recv_into_timeout(
        &mut self,
        buf: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<usize> {
        let name = self.name().to_owned();
        within(name, timeout, self.recv_into(buf)).await
    }
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

    /// Like [`Async::<channel::Producer>::send`], giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As [`channel::Producer::send`], and [`Error::Timeout`].
    pub async fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        let name = self.name().to_owned();
        within(name, timeout, self.send(msg)).await
    }
}

impl<T: Pod> Async<channel::typed::Consumer<T>> {
    /// Receives the next value in place: [`channel::message::Receiver::recv`], awaiting.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::message::Receiver::recv`].
    pub fn recv(
        &mut self,
    ) -> impl Future<Output = Result<channel::typed::Sample<'_, T>>> + Send + '_ {
        self.op(|c| c.try_recv())
    }

    /// Receives the next value by copy: [`channel::message::Receiver::recv_copy`], awaiting.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::message::Receiver::recv`].
    pub fn recv_copy(&mut self) -> impl Future<Output = Result<T>> + Send + '_ {
        self.op(|c| c.try_recv_copy())
    }
}

impl<T: Pod + Sync> Async<channel::typed::Producer<T>> {
    /// Loans room for one `T`: [`channel::message::Sender::loan`], awaiting room.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::message::Sender::loan`].
    pub fn loan(
        &mut self,
    ) -> impl Future<Output = Result<channel::typed::Loan<'_, T>>> + Send + '_ {
        self.op(|p| p.try_loan())
    }

    /// Copies `value` in and publishes it: [`channel::message::Sender::send`], awaiting room.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::message::Sender::send`].
    pub fn send<'a>(&'a mut self, value: &'a T) -> impl Future<Output = Result<()>> + Send + 'a {
        self.op(move |p| p.try_send(value))
    }
}
