//! Test code shared by typed channels (`typed.rs`) and typed broadcasts
//! (`typed_broadcast.rs`). A consumer and a subscriber have the same receiving methods, and a
//! producer and a publisher the same sending ones (each dereferences to
//! `channel::typed_core::Receiver` / `Sender`), but over a byte side that a test cannot name as a
//! bound; so the shared loops over those methods are macros, the rest functions.

use std::time::Duration;

use shmkit::channel::{self, broadcast};
use shmkit::sync::Pod;
use shmkit::Error;

/// A hang guard, never a performance assertion.
pub const WAIT: Duration = Duration::from_secs(60);

/// Which typed object a helper opens.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A typed channel, opened as its consumer.
    Channel,
    /// A typed broadcast, joined as a subscriber.
    Broadcast,
}

/// The `LayoutMismatch` of opening `name` as a consumer (`Channel`) or subscriber
/// (`Broadcast`) of `T` with `tag`, as text.
pub fn mismatch<T: Pod>(kind: Kind, name: &str, tag: Option<&str>) -> String {
    match kind {
        Kind::Channel => {
            let mut o = channel::typed::<T>();
            if let Some(t) = tag {
                o.tag(t);
            }
            layout_error(o.open_consumer(name))
        }
        Kind::Broadcast => {
            let mut o = broadcast::typed::<T>();
            if let Some(t) = tag {
                o.tag(t);
            }
            layout_error(o.open_subscriber(name))
        }
    }
}

/// The text of `opened`, which must be a `LayoutMismatch`.
pub fn layout_error<S: std::fmt::Debug>(opened: shmkit::Result<S>) -> String {
    match opened {
        Err(e @ Error::LayoutMismatch { .. }) => e.to_string(),
        other => panic!("expected LayoutMismatch, got {other:?}"),
    }
}

/// Checks that opening `name`, created for `[u32; 4]` tagged "quad v1", with another size,
/// alignment or tag is `LayoutMismatch` naming both sides.
pub fn assert_other_layouts_are_refused(kind: Kind, name: &str) {
    // Size: 16 bytes recorded, 8 asked.
    let e = mismatch::<[u32; 2]>(kind, name, Some("quad v1"));
    assert!(
        e.contains("16-byte messages, align 4") && e.contains("8-byte"),
        "{e}"
    );
    // Alignment: the same 16 bytes, aligned to 8.
    let e = mismatch::<[u64; 2]>(kind, name, Some("quad v1"));
    assert!(e.contains("align 4") && e.contains("align 8"), "{e}");
    // Tag: both are named.
    let e = mismatch::<[u32; 4]>(kind, name, Some("quad v2"));
    assert!(
        e.contains("\"quad v1\"") && e.contains("\"quad v2\""),
        "{e}"
    );
    let e = mismatch::<[u32; 4]>(kind, name, None);
    assert!(e.contains("\"quad v1\"") && e.contains("no tag"), "{e}");
}

/// Checks the outcome of `examples/typed_peer.rs` run with its other `Reading` (24 bytes):
/// it failed with a `LayoutMismatch` naming both sizes.
pub fn assert_peer_refused(ok: bool, out: &str) {
    assert!(!ok, "{out}");
    assert!(out.starts_with("error: LayoutMismatch:"), "{out}");
    assert!(
        out.contains("24-byte messages, align 8") && out.contains("16-byte"),
        "{out}"
    );
}

/// Calls every non-blocking receive of a typed consumer or subscriber a few times, ignoring
/// the answers: what the fuzz tests do with whatever opened.
macro_rules! try_every_recv {
    ($rx:expr) => {
        for _ in 0..4 {
            let _ = $rx.try_recv().map(|s| s.seq);
            let _ = $rx.try_recv_slice().map(|s| s.len());
            let _ = $rx.try_recv_copy();
            let _ = $rx.try_recv_slice_into(&mut Vec::new());
        }
    };
}
pub(crate) use try_every_recv;

/// Sends `values` as message `m` from a typed producer or publisher, written one of five ways
/// in turn: copied in, written value by value, loaned longer then truncated, written through
/// the uninitialised slot, copied into a loan.
macro_rules! send_slice_a_way {
    ($tx:expr, $m:expr, $values:expr) => {{
        let (values, len) = ($values, $values.len());
        let wait = $crate::typed_common::WAIT;
        match $m % 5 {
            0 => $tx.send_slice_timeout(values, wait).unwrap(),
            1 => $tx
                .loan_slice_timeout(len, wait)
                .unwrap()
                .write_with(|i| values[i])
                .commit(),
            2 => {
                // Loan more than needed, fill, and send only `len` values.
                let longer = (len + 50).min($tx.max_slice_len());
                let mut w = $tx.loan_slice_timeout(longer, wait).unwrap().zeroed();
                w[..len].copy_from_slice(values);
                w.truncate(len);
                w.commit();
            }
            3 => {
                let mut loan = $tx.loan_slice_timeout(len, wait).unwrap();
                for (d, s) in loan.as_uninit().iter_mut().zip(values) {
                    d.write(*s);
                }
                // SAFETY: every value was written just above.
                unsafe { loan.assume_init() }.commit();
            }
            _ => $tx
                .loan_slice_timeout(len, wait)
                .unwrap()
                .copy_from_slice(values)
                .commit(),
        }
    }};
}
pub(crate) use send_slice_a_way;

/// Receives `n` slices from a typed consumer or subscriber, in place and copied out in turn,
/// and checks that message `m` is `want(m)`.
macro_rules! recv_slices_checked {
    ($rx:expr, $n:expr, $want:expr) => {{
        let wait = $crate::typed_common::WAIT;
        let mut buf = Vec::new();
        for m in 0..$n {
            let want: Vec<_> = $want(m);
            if m % 2 == 0 {
                let got = $rx.recv_slice_timeout(wait).unwrap();
                assert_eq!(&*got, &want[..], "message {m}");
            } else {
                let n = $rx.recv_slice_into_timeout(&mut buf, wait).unwrap();
                assert_eq!((n, &buf[..]), (want.len(), &want[..]), "message {m}");
            }
        }
    }};
}
pub(crate) use recv_slices_checked;
