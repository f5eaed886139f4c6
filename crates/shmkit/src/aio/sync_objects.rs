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

    /// Like [`Async::<Event>::wait`], giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Event::wait`], and [`Error::Timeout`].
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        within(self.name().to_owned(), timeout, self.wait()).await
    }
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

    /// Like [`Async::<Semaphore>::wait`], giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Semaphore::wait`], and [`Error::Timeout`].
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        within(self.name().to_owned(), timeout, self.wait()).await
    }
}
