//! Blocking calls: the interpreter is released while waiting, and the wait is cut into
//! slices of at most [`SLICE`] so that Ctrl-C (any pending signal) is seen between them and
//! raised as `KeyboardInterrupt` (or whatever the handler raises) within ~50 ms.
//!
//! Waiting for a named object to appear (`open_timeout=`) is cut the same way: each slice is
//! one open with the library's `open_timeout` set to the slice ([`opening`]).

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

    /// Reads an `open_timeout` argument: `None` (the default) does not wait, as the library's
    /// default of zero; else seconds (≥ 0), `math.inf` forever.
    pub(crate) fn from_open_timeout(open_timeout: Option<f64>) -> PyResult<Wait> {
        match open_timeout {
            None => Ok(Wait::Try),
            Some(t) if t.is_nan() || t < 0.0 => Err(PyValueError::new_err(
                "open_timeout must be a non-negative number of seconds (math.inf: forever) or None",
            )),
            t => Wait::from_timeout(t),
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
    attempt: impl FnMut(Slice) -> Result<T, Fail> + Send,
) -> PyResult<T> {
    sliced(
        py,
        wait,
        |e| matches!(e, shmkit::Error::Timeout { .. }),
        attempt,
    )
}

/// Opens a named object, waiting for it to appear as `wait` says (from
/// [`Wait::from_open_timeout`]): `open(d)` is one open with the library's `open_timeout` set
/// to `d` (zero: do not wait). When the time is up, the error is the `NotFound` the open
/// gave, as in Rust.
pub(crate) fn opening<T: Send>(
    py: Python<'_>,
    wait: Wait,
    mut open: impl FnMut(Duration) -> shmkit::Result<T> + Send,
) -> PyResult<T> {
    sliced(
        py,
        wait,
        |e| matches!(e, shmkit::Error::NotFound { .. }),
        |slice| Ok(open(slice.unwrap_or(Duration::ZERO))?),
    )
}

/// [`blocking`], where `again` says which error means "nothing happened in this slice".
fn sliced<T: Send>(
    py: Python<'_>,
    wait: Wait,
    again: impl Fn(&shmkit::Error) -> bool,
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
            Err(Fail::Shm(e)) if !last && again(&e) => py.check_signals()?,
            other => return other.map_err(PyErr::from),
        }
    }
}
