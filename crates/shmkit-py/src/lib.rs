//! The native part of the `shmkit` Python package (`shmkit._shmkit`): PyO3 bindings over the
//! public API of the `shmkit` crate. The Python package (`python/shmkit/`) re-exports it
//! with the exception classes, type stubs and the benchmark.
//!
//! Rules every binding follows:
//! * blocking calls detach from the interpreter and wait in slices (`wait.rs`), so other
//!   threads run and Ctrl-C raises `KeyboardInterrupt` within ~50 ms;
//! * a handle may be shared between threads: each call happens whole, and an open loan or
//!   held sample holds its handle, so other threads' calls wait for it (`shared.rs`,
//!   "Threads"); there is never a second `&mut` to a Rust sender or receiver;
//! * memory handed to Python through the buffer protocol stays mapped while any view of it
//!   lives (`buffer.rs`), and giving it back to the protocol is refused while views live;
//! * every `shmkit::Error` becomes its class in `shmkit._errors` (`errors.rs`).

use pyo3::prelude::*;

mod broadcast;
mod buffer;
mod channel;
mod errors;
mod file;
mod held;
mod loan;
mod rx;
mod segment;
mod service;
mod service_client;
mod shared;
mod shared_value;
mod sync;
mod tx;
mod typed;
mod wait;
mod waitset;

/// A function of one of the package's Python modules, looked up once: an import and a
/// lookup on every call cost microseconds (`recv_async` spent 2.5 µs of its await there).
pub(crate) fn python_fn<'py>(
    py: Python<'py>,
    cell: &'static pyo3::sync::PyOnceLock<Py<PyAny>>,
    module: &str,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import(module)?.getattr(name)?.unbind())
    })
    .map(|f| f.bind(py))
}

/// Calls the function `name` of `shmkit._aio` (the asyncio forms), looked up once per call
/// site's `cell`.
macro_rules! aio_call {
    ($py:expr, $name:literal, $args:expr) => {{
        static CELL: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
        $crate::python_fn($py, &CELL, "shmkit._aio", $name)?.call1($args)
    }};
}
pub(crate) use aio_call;

/// The native module `shmkit._shmkit`.
#[pymodule]
fn _shmkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<segment::Segment>()?;
    m.add_class::<tx::Sender>()?;
    m.add_class::<loan::Loan>()?;
    m.add_class::<rx::Receiver>()?;
    m.add_class::<rx::Sample>()?;
    m.add_class::<waitset::WaitSet>()?;
    m.add_class::<file::FileMapping>()?;
    m.add_class::<file::View>()?;
    m.add_function(wrap_pyfunction!(segment::remove, m)?)?;
    m.add_function(wrap_pyfunction!(segment::inspect, m)?)?;
    m.add_function(wrap_pyfunction!(segment::list, m)?)?;
    m.add_function(wrap_pyfunction!(cli, m)?)?;
    m.add_submodule(&channel::module(py)?)?;
    m.add_submodule(&broadcast::module(py)?)?;
    m.add_submodule(&sync::module(py)?)?;
    m.add_submodule(&service::module(py)?)?;
    m.add("LAYOUT_VERSION", shmkit::inspect::LAYOUT_VERSION)?;
    // Wrapped by `shmkit.DEFAULT_MODE` (an int shown in octal, for signatures).
    m.add("DEFAULT_MODE", shmkit::segment::DEFAULT_MODE)?;
    Ok(())
}

/// Runs the `shmkit` command line with `args` (without the program's name) in this process
/// and returns its exit status: `python -m shmkit` and the `shmkit` script call this, in a
/// process of their own (the CLI installs its own Ctrl-C/SIGTERM handling, and a bad command
/// line ends the process with status 2).
#[pyfunction]
fn cli(py: Python<'_>, args: Vec<std::ffi::OsString>) -> u8 {
    let argv = std::iter::once(std::ffi::OsString::from("shmkit")).chain(args);
    py.detach(|| shmkit_cli::exit_status(shmkit_cli::main_from(argv)))
}
