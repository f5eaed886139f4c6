//! Async forms of events and semaphores.

use super::*;

impl Async<Event> {
    /// Waits until the event is set (and, for an auto-reset event, resets it):
    /// [`Event::wait`], awaiting. Cancellation-safe: an auto-reset event is only reset by the
    /// poll that returns `Ready`.
    ///
    /// # Errors
    ///
    /// As [`Event::wait`].
    pub fn wait(&self) -> impl Future<Output = Result<()>> + Send + '_ {
        self.op_ref(|e| e.try_wait())
    }

    timed_forms!(by_ref; wait, wait_timeout, wait_deadline () -> ());
}

impl Async<Semaphore> {
    /// Takes a permit: [`Semaphore::wait`], awaiting. Cancellation-safe: the permit is taken
    /// only by the poll that returns `Ready`.
    ///
    /// # Errors
    ///
    /// As [`Semaphore::wait`].
    pub fn wait(&self) -> impl Future<Output = Result<()>> + Send + '_ {
        self.op_ref(|s| s.try_wait())
    }

    timed_forms!(by_ref; wait, wait_timeout, wait_deadline () -> ());
}
