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

impl<T: Pod> Async<channel::typed::Consumer<T>> {
    /// Receives the next value in place: [`channel::typed_core::Receiver::recv`], awaiting.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Receiver::recv`].
    pub fn recv(
        &mut self,
    ) -> impl Future<Output = Result<channel::typed::Sample<'_, T>>> + Send + '_ {
        self.op(|c| c.try_recv())
    }

    /// Receives the next value by copy: [`channel::typed_core::Receiver::recv_copy`], awaiting.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Receiver::recv`].
    pub fn recv_copy(&mut self) -> impl Future<Output = Result<T>> + Send + '_ {
        self.op(|c| c.try_recv_copy())
    }

    timed_forms!(by_mut; recv, recv_timeout, recv_deadline () -> channel::typed::Sample<'_, T>);
    timed_forms!(by_mut; recv_copy, recv_copy_timeout, recv_copy_deadline () -> T);
}

impl<T: Pod + Sync> Async<channel::typed::Producer<T>> {
    /// Loans room for one `T`: [`channel::typed_core::Sender::loan`], awaiting room.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Sender::loan`].
    pub fn loan(
        &mut self,
    ) -> impl Future<Output = Result<channel::typed::Loan<'_, T>>> + Send + '_ {
        self.op(|p| p.try_loan())
    }

    /// Copies `value` in and publishes it: [`channel::typed_core::Sender::send`], awaiting room.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Sender::send`].
    pub fn send<'a>(&'a mut self, value: &'a T) -> impl Future<Output = Result<()>> + Send + 'a {
        self.op(move |p| p.try_send(value))
    }

    timed_forms!(by_mut; loan, loan_timeout, loan_deadline () -> channel::typed::Loan<'_, T>);
    timed_forms!(by_mut; send, send_timeout, send_deadline (value: &T) -> ());
}

/// The copying and slice receives of a typed channel consumer, awaiting.
impl<T: Pod + Send> Async<channel::typed::Consumer<T>> {
    /// Receives the next value into `value`: [`channel::typed_core::Receiver::recv_into`],
    /// awaiting. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Receiver::recv`].
    pub fn recv_into<'a>(
        &'a mut self,
        value: &'a mut T,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        self.op(move |s| s.try_recv_into(value))
    }

    /// Receives the next slice in place: [`channel::typed_core::Receiver::recv_slice`],
    /// awaiting. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Receiver::recv_slice`].
    pub fn recv_slice(
        &mut self,
    ) -> impl Future<Output = Result<channel::typed::SliceSample<'_, T>>> + Send + '_ {
        self.op(|s| s.try_recv_slice())
    }

    /// Receives the next slice into `buf`; returns its length:
    /// [`channel::typed_core::Receiver::recv_slice_into`], awaiting. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Receiver::recv_slice`].
    pub fn recv_slice_into<'a>(
        &'a mut self,
        buf: &'a mut Vec<T>,
    ) -> impl Future<Output = Result<usize>> + Send + 'a {
        self.op(move |s| s.try_recv_slice_into(buf))
    }

    timed_forms!(by_mut; recv_into, recv_into_timeout, recv_into_deadline (value: &mut T) -> ());
    timed_forms!(by_mut; recv_slice, recv_slice_timeout, recv_slice_deadline () -> channel::typed::SliceSample<'_, T>);
    timed_forms!(by_mut; recv_slice_into, recv_slice_into_timeout, recv_slice_into_deadline (buf: &mut Vec<T>) -> usize);
}

/// The slice loans and sends of a typed channel producer, awaiting.
impl<T: Pod + Sync> Async<channel::typed::Producer<T>> {
    /// Loans room for `len` values: [`channel::typed_core::Sender::loan_slice`], awaiting
    /// room. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Sender::loan_slice`].
    pub fn loan_slice(
        &mut self,
        len: usize,
    ) -> impl Future<Output = Result<channel::typed::SliceLoan<'_, T>>> + Send + '_ {
        self.op(move |p| p.try_loan_slice(len))
    }

    /// Copies `values` in and publishes them: [`channel::typed_core::Sender::send_slice`],
    /// awaiting room. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Sender::send_slice`].
    pub fn send_slice<'a>(
        &'a mut self,
        values: &'a [T],
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        self.op(move |p| p.try_send_slice(values))
    }

    timed_forms!(by_mut; loan_slice, loan_slice_timeout, loan_slice_deadline (len: usize) -> channel::typed::SliceLoan<'_, T>);
    timed_forms!(by_mut; send_slice, send_slice_timeout, send_slice_deadline (values: &[T]) -> ());
}
