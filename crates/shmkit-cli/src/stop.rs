//! Ending a command that holds something (a segment, a channel, a terminal) on Ctrl-C, SIGTERM
//! or SIGHUP, so that it can clean up: `timeout`, `docker stop`, systemd and a closed terminal
//! end a process with SIGTERM or SIGHUP, not SIGINT.
//!
//! The `ctrlc` crate (with its `termination` feature) catches SIGINT, SIGTERM and SIGHUP on
//! Unix, and Ctrl-C, Ctrl-Break and console close on Windows, and runs the handler on a thread
//! of its own, not in signal context. Commands that install no handler keep the default
//! dispositions: they own no name, and end at once.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};

/// Whether Ctrl-C, SIGTERM or SIGHUP has arrived since [`Stop::install`].
#[derive(Clone, Debug)]
pub struct Stop(Arc<(Mutex<bool>, Condvar)>);

impl Stop {
    /// Catches Ctrl-C, SIGTERM and SIGHUP from now on (once per process).
    pub fn install() -> Result<Stop> {
        let stop = Stop(Arc::default());
        let s = stop.clone();
        ctrlc::set_handler(move || {
            let (flag, cv) = &*s.0;
            *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
            cv.notify_all();
        })
        .context("installing the Ctrl-C / SIGTERM handler")?;
        Ok(stop)
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        *self.0 .0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `d` or until a stop is requested; returns whether one was.
    pub fn sleep(&self, d: Duration) -> bool {
        let (flag, cv) = &*self.0;
        let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = cv
            .wait_timeout_while(guard, d, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }

    /// Waits until a stop is requested.
    pub fn wait(&self) {
        let (flag, cv) = &*self.0;
        let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
        drop(
            cv.wait_while(guard, |stopped| !*stopped)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}
