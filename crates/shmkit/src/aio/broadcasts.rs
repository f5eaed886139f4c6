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

impl<T: Pod> Async<broadcast::typed::Subscriber<T>> {
    /// Receives the next value in place: [`channel::typed_core::Receiver::recv`], awaiting.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Receiver::recv`].
    pub fn recv(
        &mut self,
    ) -> impl Future<Output = Result<broadcast::typed::Sample<'_, T>>> + Send + '_ {
        self.op(|s| s.try_recv())
    }

    /// Receives the next value by copy: [`channel::typed_core::Receiver::recv_copy`], awaiting.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Receiver::recv`].
    pub fn recv_copy(&mut self) -> impl Future<Output = Result<T>> + Send + '_ {
        self.op(|s| s.try_recv_copy())
    }

    timed_forms!(by_mut; recv, recv_timeout, recv_deadline () -> broadcast::typed::Sample<'_, T>);
    timed_forms!(by_mut; recv_copy, recv_copy_timeout, recv_copy_deadline () -> T);
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

impl<T: Pod + Sync> Async<broadcast::typed::Publisher<T>> {
    /// Loans the next slot for one `T`: [`channel::typed_core::Sender::loan`], awaiting a slot.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Sender::loan`].
    pub fn loan(
        &mut self,
    ) -> impl Future<Output = Result<broadcast::typed::Loan<'_, T>>> + Send + '_ {
        self.op(|p| p.try_loan())
    }

    /// Copies `value` into the next slot and publishes it: [`channel::typed_core::Sender::send`],
    /// awaiting a slot. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Sender::send`].
    pub fn send<'a>(&'a mut self, value: &'a T) -> impl Future<Output = Result<()>> + Send + 'a {
        self.op(move |p| p.try_send(value))
    }

    timed_forms!(by_mut; loan, loan_timeout, loan_deadline () -> broadcast::typed::Loan<'_, T>);
    timed_forms!(by_mut; send, send_timeout, send_deadline (value: &T) -> ());
}

/// The copying and slice receives of a typed broadcast subscriber, awaiting.
impl<T: Pod + Send> Async<broadcast::typed::Subscriber<T>> {
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
    ) -> impl Future<Output = Result<broadcast::typed::SliceSample<'_, T>>> + Send + '_ {
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
    timed_forms!(by_mut; recv_slice, recv_slice_timeout, recv_slice_deadline () -> broadcast::typed::SliceSample<'_, T>);
    timed_forms!(by_mut; recv_slice_into, recv_slice_into_timeout, recv_slice_into_deadline (buf: &mut Vec<T>) -> usize);
}

/// The slice loans and sends of a typed broadcast publisher, awaiting.
impl<T: Pod + Sync> Async<broadcast::typed::Publisher<T>> {
    /// Loans room for `len` values: [`channel::typed_core::Sender::loan_slice`], awaiting
    /// room. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`channel::typed_core::Sender::loan_slice`].
    pub fn loan_slice(
        &mut self,
        len: usize,
    ) -> impl Future<Output = Result<broadcast::typed::SliceLoan<'_, T>>> + Send + '_ {
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

    timed_forms!(by_mut; loan_slice, loan_slice_timeout, loan_slice_deadline (len: usize) -> broadcast::typed::SliceLoan<'_, T>);
    timed_forms!(by_mut; send_slice, send_slice_timeout, send_slice_deadline (values: &[T]) -> ());
}
