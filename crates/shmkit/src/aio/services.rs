//! Async forms of a service's client and server, bytes and typed.

use super::*;

impl Async<service::Client> {
    /// Waits for the response to `pending`: [`service::Client::wait`], awaiting.
    /// Cancellation-safe: a dropped future leaves the request outstanding (await `wait` again
    /// with the same `pending`, or [cancel](service::Client::cancel) it).
    ///
    /// # Errors
    ///
    /// As [`service::Client::wait`].
    pub fn wait(
        &mut self,
        pending: service::Pending,
    ) -> impl Future<Output = Result<service::Response<'_>>> + Send + '_ {
        self.op(move |c| c.try_wait(pending))
    }

    timed_forms!(by_mut; wait, wait_timeout, wait_deadline (pending: service::Pending) -> service::Response<'_>);
}

impl Async<service::Server> {
    /// Receives the next request: [`service::Server::recv`], awaiting. Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`service::Server::recv`].
    pub fn recv(&mut self) -> impl Future<Output = Result<service::Request>> + Send + '_ {
        self.op(|s| s.try_recv())
    }

    timed_forms!(by_mut; recv, recv_timeout, recv_deadline () -> service::Request);
}

impl<Req: Pod, Resp: Pod> Async<service::typed::Client<Req, Resp>> {
    /// Waits for the response to `pending`: [`service::typed::Client::wait`], awaiting.
    /// Cancellation-safe, as [`Async::<service::Client>::wait`].
    ///
    /// # Errors
    ///
    /// As [`service::typed::Client::wait`].
    pub fn wait(
        &mut self,
        pending: service::Pending,
    ) -> impl Future<Output = Result<Resp>> + Send + '_ {
        self.op(move |c| c.try_wait(pending))
    }

    timed_forms!(by_mut; wait, wait_timeout, wait_deadline (pending: service::Pending) -> Resp);
}

impl<Req: Pod, Resp: Pod> Async<service::typed::Server<Req, Resp>> {
    /// Receives the next request: [`service::typed::Server::recv`], awaiting.
    /// Cancellation-safe.
    ///
    /// # Errors
    ///
    /// As [`service::typed::Server::recv`].
    pub fn recv(
        &mut self,
    ) -> impl Future<Output = Result<service::typed::Request<Req>>> + Send + '_ {
        self.op(|s| s.try_recv())
    }

    timed_forms!(by_mut; recv, recv_timeout, recv_deadline () -> service::typed::Request<Req>);
}
