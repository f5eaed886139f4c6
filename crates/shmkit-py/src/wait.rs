//! Blocking calls: the interpreter is released while waiting, and the wait is cut into
//! slices of at most [`SLICE`] so that Ctrl-C (any pending signal) is seen between them and
//! raised as `KeyboardInterrupt` (or whatever the handler raises) within ~50 ms.

use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::Fail;

/// The longest a blocking call waits without looking at pending signals.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// How long a call may wait, from Python's `timeout=None | float` (seconds).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// Do not wait (`timeout=0`).
    Try,
    /// Wait until this instant.
    Until(Instant),
    /// Wait as long as it takes (`timeout=None`).
    Forever,
}

impl Wait {
    /// Reads a `timeout` argument: `None` forever, `0` not at all, else seconds (≥ 0).
    pub(crate) fn from_timeout(timeout: Option<f64>) -> PyResult<Wait> {
        match timeout {
            None => Ok(Wait::Forever),
            Some(t) if t.is_nan() || t < 0.0 => Err(PyValueError::new_err(
                "timeout must be a non-negative number of seconds or None",
            )),
            Some(0.0) => Ok(Wait::Try),
            Some(t) => Ok(Duration::try_from_secs_f64(t)
                .ok()
                .and_then(|d| Instant::now().checked_add(d))
                .map_or(Wait::Forever, Wait::Until)),
        }
    }
}

/// What one attempt may wait for: nothing (`None`: try) or at most a slice.
pub(crate) type Slice = Option<Duration>;

/// Runs `attempt` detached from the interpreter, slice after slice, until it returns
/// anything other than `Timeout` or the caller's deadline passes; between slices, pending
/// signals are handled (so Ctrl-C raises `KeyboardInterrupt`).
///
/// `attempt(None)` must not wait; `attempt(Some(d))` may wait at most about `d` and returns
/// [`shmkit::Error::Timeout`] when nothing happened.
pub(crate) fn blocking<T: Send>(
    py: Python<'_>,
    wait: Wait,
    mut attempt: impl FnMut(Slice) -> Result<T, Fail> + Send,
) -> PyResult<T> {
    loop {
        let (slice, last) = match wait {
            Wait::Try => (None, true),
            Wait::Forever => (Some(SLICE), false),
            Wait::Until(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                (Some(left.min(SLICE)), left <= SLICE)
            }
        };
        match py.detach(|| attempt(slice)) {
            Err(Fail::Shm(shmkit::Error::Timeout { .. })) if !last => py.check_signals()?,
            other => return other.map_err(PyErr::from),
        }
    }
}
