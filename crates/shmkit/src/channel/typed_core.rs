//! In-place messages of a plain-old-data type `T`, shared by [typed channels](mod@super::typed)
//! and [typed broadcasts](mod@super::broadcast::typed).
//!
//! The types here are generic over the byte-level loan or sample they wrap (`B` / `S`: a
//! channel's or a broadcast's); use them through their sides' names,
//! [`channel::typed::Loan<'_, T>`](super::typed::Loan),
//! [`broadcast::typed::Sample<'_, T>`](super::broadcast::typed::Sample) and so on. A loan is
//! an uninitialised `T` (or slice) in shared memory, which only becomes committable once
//! written; a sample dereferences to the `T` (or slice) received.
//!
//! # The typed sides
//!
//! The methods the typed sides share are written here once too: [`Sender`] (the loan and
//! send family) over a byte producer or publisher, [`Receiver`] (the recv, copy-out and
//! slice family) over a byte consumer or subscriber. The byte side is a type parameter
//! behind a sealed trait, so every call is resolved at compile time: nothing is dispatched
//! dynamically, and the hot paths inline as they did when each side had its own copy.
//!
//! Each public side is a named struct around one of them —
//! [`channel::typed::Producer<T>`](super::typed::Producer) around `Sender<T,
//! channel::Producer>` and so on — that dereferences to it, and adds what only that side has
//! (`capacity`, `is_creator`, `set_wait_strategy` on a channel; `policy`, `subscribers` on a
//! broadcast). Why this shape rather than another:
//!
//! * forwarding every method from each side would write every signature and its docs twice
//!   again, which is the repetition this module removes;
//! * a public trait would make callers import it to call `recv`;
//! * type aliases of `Sender`/`Receiver` would leave the sides without their own page and
//!   docs, and put their side-specific methods on impls of a foreign-looking generic type.
//!
//! `Deref` is meant for smart pointers; here it is the one way Rust offers to give two named
//! types one set of inherent methods. rustdoc lists those methods on each side's page
//! ("Methods from `Deref`").

use std::fmt;
use std::marker::PhantomData;
use std::mem::{align_of, size_of, MaybeUninit};
use std::ops::{Deref, DerefMut};

use bytemuck::Pod;

mod receiver;
mod sender;

pub use receiver::Receiver;
pub use sender::Sender;

pub(crate) mod sealed {
    use std::ops::{Deref, DerefMut};

    use crate::sys::Deadline;
    use crate::Result;

    /// A byte-level loan or sample, whose payload is aligned to `ALIGN` bytes.
    pub trait Aligned {
        /// The alignment of every payload: 8 in a channel's ring, 16 in a broadcast's slots.
        const ALIGN: usize;
    }

    /// A byte-level loan: the payload of one message being written.
    ///
    /// # Safety
    ///
    /// An implementor promises that [`as_mut_ptr`](ByteLoan::as_mut_ptr) returns the start of
    /// the loan's payload, aligned to [`ALIGN`](Aligned::ALIGN) bytes and valid for writes
    /// of the loaned length (the length of `deref` before any `truncate`), and that nothing
    /// else reads or writes those bytes until the loan is committed or dropped (the loan
    /// borrows its side mutably).
    pub unsafe trait ByteLoan: Aligned + DerefMut<Target = [u8]> {
        /// The payload's first byte, without making a reference to it.
        fn as_mut_ptr(&mut self) -> *mut u8;
        /// Shrinks the message to `len` bytes (at most the loaned length).
        fn truncate(&mut self, len: usize);
        /// Publishes the message.
        fn commit(self);
    }

    /// A byte-level sample: one received message, whose payload is aligned to `ALIGN`.
    pub trait ByteSample: Aligned + Deref<Target = [u8]> {
        /// Copies the first `dst.len()` bytes into `dst`, without making a reference.
        fn copy_to(&self, dst: &mut [u8]);
        /// The name of the channel or broadcast the message came from.
        fn channel_name(&self) -> &str;
    }

    /// A byte-level sending side, which a [`Sender`](super::Sender) wraps: a channel's
    /// producer or a broadcast's publisher.
    pub trait ByteSender {
        /// What [`loan_until`](ByteSender::loan_until) lends.
        type Loan<'a>: ByteLoan
        where
            Self: 'a;
        /// The typed side's name in `Debug` output: `Producer` or `Publisher`.
        const TYPED: &'static str;
        /// The channel's name.
        fn name(&self) -> &str;
        /// The largest message, in bytes.
        fn max_message_len(&self) -> usize;
        /// Borrows room for a message of `len` bytes, waiting until `deadline`.
        fn loan_until(&mut self, len: usize, deadline: Deadline) -> Result<Self::Loan<'_>>;
        /// Copies `msg` in and publishes it, waiting for room until `deadline`.
        fn send_until(&mut self, msg: &[u8], deadline: Deadline) -> Result<()>;
    }

    /// A byte-level receiving side, which a [`Receiver`](super::Receiver) wraps: a channel's
    /// consumer or a broadcast's subscriber.
    pub trait ByteReceiver {
        /// What [`recv_until`](ByteReceiver::recv_until) returns.
        type Sample<'a>: ByteSample
        where
            Self: 'a;
        /// The typed side's name in `Debug` output: `Consumer` or `Subscriber`.
        const TYPED: &'static str;
        /// The channel's name.
        fn name(&self) -> &str;
        /// The next message, waiting until `deadline`.
        fn recv_until(&mut self, deadline: Deadline) -> Result<Self::Sample<'_>>;
        /// The reason of the [`Corrupt`](crate::Error::Corrupt) error for `sample`, whose
        /// length does not fit `expected` (say, "8-byte u64 values").
        fn misfit(sample: &Self::Sample<'_>, expected: &str) -> String;
    }
}

use sealed::{Aligned, ByteLoan, ByteSample};

/// `T` fits a payload of `P`: checked at compile time by each side's `Fits`, and again here
/// so that the SAFETY argument below stands on its own.
struct Fits<T, P>(PhantomData<(T, P)>);

impl<T, P: Aligned> Fits<T, P> {
    const OK: () = assert!(align_of::<T>() <= P::ALIGN && size_of::<T>() > 0);
}

/// A slot for one `T`, not yet written: from `Producer::loan` or `Publisher::loan`.
///
/// [`write`](Loan::write) a value (or [`zeroed`](Loan::zeroed), or fill
/// [`as_uninit`](Loan::as_uninit) and [`assume_init`](Loan::assume_init)) to get a
/// [`Written`] loan, which alone can be committed. Dropping either publishes nothing.
#[must_use = "a loan publishes nothing until written and committed"]
pub struct Loan<T, B> {
    inner: B,
    _t: PhantomData<fn(T)>,
}

/// A written slot for one `T`: dereferences to the value in shared memory, to change it
/// further in place; [`commit`](Written::commit) publishes it.
#[must_use = "a loan publishes nothing until commit()"]
pub struct Written<T, B> {
    inner: B,
    _t: PhantomData<fn(T)>,
}

/// A slot for `len` values of `T`, not yet written: from `Producer::loan_slice` or
/// `Publisher::loan_slice`. Becomes a [`WrittenSlice`] once filled.
#[must_use = "a loan publishes nothing until written and committed"]
pub struct SliceLoan<T, B> {
    inner: B,
    len: usize,
    _t: PhantomData<fn(T)>,
}

/// A written slice in shared memory: dereferences to `[T]`;
/// [`truncate`](WrittenSlice::truncate) it to send fewer values than were loaned, then
/// [`commit`](WrittenSlice::commit).
#[must_use = "a loan publishes nothing until commit()"]
pub struct WrittenSlice<T, B> {
    inner: B,
    len: usize,
    _t: PhantomData<fn(T)>,
}

impl<T: Pod, B: ByteLoan> Loan<T, B> {
    /// Wraps a byte loan of `size_of::<T>()` bytes.
    pub(crate) fn new(inner: B) -> Self {
        Loan {
            inner,
            _t: PhantomData,
        }
    }

    /// The slot, uninitialised, to write in place (field by field, through raw pointers, or
    /// with [`MaybeUninit::write`]); then [`Loan::assume_init`].
    pub fn as_uninit(&mut self) -> &mut MaybeUninit<T> {
        let () = Fits::<T, B>::OK;
        // SAFETY: the loan's payload is `size_of::<T>()` bytes (the byte loan's length, from
        // `new`) at a `B::ALIGN`-aligned address (the `ByteLoan` contract: 8 for a channel's
        // ring, 16 for a broadcast's slots), and `align_of::<T>() <= B::ALIGN` (this module's
        // `Fits`, and each side's, at compile time); it is this loan's alone until commit (the
        // contract again: the loan borrows its side mutably), and `MaybeUninit<T>` has no
        // validity requirement.
        unsafe { &mut *self.inner.as_mut_ptr().cast::<MaybeUninit<T>>() }
    }

    /// Writes `value` into the slot, ready to commit.
    #[inline]
    pub fn write(mut self, value: T) -> Written<T, B> {
        self.as_uninit().write(value);
        Written {
            inner: self.inner,
            _t: PhantomData,
        }
    }

    /// Zeroes the slot, ready to be changed in place and committed.
    pub fn zeroed(self) -> Written<T, B> {
        self.write(T::zeroed())
    }

    /// Declares the slot written through [`Loan::as_uninit`].
    ///
    /// # Safety
    ///
    /// Every byte of the `T` must have been initialised (as for
    /// [`MaybeUninit::assume_init`]; a `Pod` type has no padding, so every field).
    pub unsafe fn assume_init(self) -> Written<T, B> {
        Written {
            inner: self.inner,
            _t: PhantomData,
        }
    }
}

impl<T: Pod, B: ByteLoan> Written<T, B> {
    /// Publishes the value (to the consumer, or to every subscriber).
    #[inline]
    pub fn commit(self) {
        self.inner.commit();
    }
}

impl<T: Pod, B: ByteLoan> Deref for Written<T, B> {
    type Target = T;
    fn deref(&self) -> &T {
        // Exactly one initialised `T`, `B::ALIGN`-aligned: `from_bytes` cannot fail.
        bytemuck::from_bytes(&self.inner)
    }
}

impl<T: Pod, B: ByteLoan> DerefMut for Written<T, B> {
    fn deref_mut(&mut self) -> &mut T {
        bytemuck::from_bytes_mut(&mut self.inner)
    }
}

impl<T: Pod, B: ByteLoan> SliceLoan<T, B> {
    /// Wraps a byte loan of `len * size_of::<T>()` bytes.
    pub(crate) fn new(inner: B, len: usize) -> Self {
        SliceLoan {
            inner,
            len,
            _t: PhantomData,
        }
    }

    /// The number of values loaned.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the loan holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot, uninitialised, to write in place; then [`SliceLoan::assume_init`].
    pub fn as_uninit(&mut self) -> &mut [MaybeUninit<T>] {
        let () = Fits::<T, B>::OK;
        // SAFETY: the payload is `len * size_of::<T>()` bytes (the byte loan's length, from
        // `new`) at a `B::ALIGN`-aligned address (the `ByteLoan` contract) and
        // `align_of::<T>() <= B::ALIGN` (`Fits`, at compile time); it is this
        // loan's alone until commit; `MaybeUninit<T>` has no validity requirement.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.inner.as_mut_ptr().cast::<MaybeUninit<T>>(),
                self.len,
            )
        }
    }

    fn written(self) -> WrittenSlice<T, B> {
        WrittenSlice {
            inner: self.inner,
            len: self.len,
            _t: PhantomData,
        }
    }

    /// Copies `values` into the slot, ready to commit.
    ///
    /// # Panics
    ///
    /// If `values.len()` is not the loaned length, as `<[T]>::copy_from_slice`.
    pub fn copy_from_slice(mut self, values: &[T]) -> WrittenSlice<T, B> {
        let slot = self.as_uninit();
        assert_eq!(
            values.len(),
            slot.len(),
            "the slice's length differs from the loan's"
        );
        for (d, s) in slot.iter_mut().zip(values) {
            d.write(*s);
        }
        self.written()
    }

    /// Writes `f(i)` as the `i`-th value, for every value of the slot, ready to commit. If
    /// `f` panics, the loan is dropped and nothing is published.
    #[inline]
    pub fn write_with(mut self, mut f: impl FnMut(usize) -> T) -> WrittenSlice<T, B> {
        for (i, d) in self.as_uninit().iter_mut().enumerate() {
            d.write(f(i));
        }
        self.written()
    }

    /// Zeroes the slot, ready to be changed in place and committed.
    pub fn zeroed(self) -> WrittenSlice<T, B> {
        self.write_with(|_| T::zeroed())
    }

    /// Declares the slot written through [`SliceLoan::as_uninit`].
    ///
    /// # Safety
    ///
    /// Every byte of every value must have been initialised.
    pub unsafe fn assume_init(self) -> WrittenSlice<T, B> {
        self.written()
    }
}

impl<T: Pod, B: ByteLoan> WrittenSlice<T, B> {
    /// Shrinks the message to its first `len` values (at most the loaned length).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        self.inner.truncate(self.len * size_of::<T>());
    }

    /// Publishes the values (to the consumer, or to every subscriber).
    #[inline]
    pub fn commit(self) {
        self.inner.commit();
    }
}

impl<T: Pod, B: ByteLoan> Deref for WrittenSlice<T, B> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // Initialised, `B::ALIGN`-aligned, a whole number of `T`s: `cast_slice` cannot fail.
        bytemuck::cast_slice(&self.inner[..self.len * size_of::<T>()])
    }
}

impl<T: Pod, B: ByteLoan> DerefMut for WrittenSlice<T, B> {
    fn deref_mut(&mut self) -> &mut [T] {
        let bytes = self.len * size_of::<T>();
        bytemuck::cast_slice_mut(&mut self.inner[..bytes])
    }
}

/// `Debug`, `Deref` and `DerefMut` for a public typed side `$side<T>` whose one field
/// `inner` is the [`Sender`] or [`Receiver`] `$target` it wraps: it shows as, and
/// dereferences to, that (see "The typed sides" above).
macro_rules! typed_side {
    ($side:ident => $target:ty) => {
        impl<T> std::fmt::Debug for $side<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.inner.fmt(f)
            }
        }

        impl<T> std::ops::Deref for $side<T> {
            type Target = $target;
            #[inline]
            fn deref(&self) -> &$target {
                &self.inner
            }
        }

        impl<T> std::ops::DerefMut for $side<T> {
            #[inline]
            fn deref_mut(&mut self) -> &mut $target {
                &mut self.inner
            }
        }
    };
}
pub(crate) use typed_side;

macro_rules! debug_loan {
    ($($ty:ident),*) => {$(
        impl<T, B> fmt::Debug for $ty<T, B> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("type", &std::any::type_name::<T>())
                    .finish_non_exhaustive()
            }
        }
    )*};
}
debug_loan!(Loan, Written, SliceLoan, WrittenSlice);

/// A received value, read in place from shared memory; dereferences to `&T`, and releases
/// the message when dropped.
///
/// The reference is into memory the sending process can write: sound while it follows the
/// protocol (see the typed channel's or broadcast's module docs, "Trust").
pub struct Sample<T, S> {
    pub(crate) inner: S,
    _t: PhantomData<fn() -> T>,
}

/// A received slice, read in place from shared memory; dereferences to `&[T]`, and releases
/// the message when dropped. The same trust caveat as [`Sample`].
pub struct SliceSample<T, S> {
    pub(crate) inner: S,
    _t: PhantomData<fn() -> T>,
}

/// Whether a message of `len` bytes is one `T` (`whole`: a whole number of them).
pub(crate) fn fits<T>(len: usize, whole: bool) -> bool {
    let size = size_of::<T>();
    len == size || (whole && len % size == 0)
}

impl<T: Pod, S: ByteSample> Sample<T, S> {
    /// Wraps a byte sample of `size_of::<T>()` bytes (checked with [`fits`]).
    pub(crate) fn new(inner: S) -> Self {
        Sample {
            inner,
            _t: PhantomData,
        }
    }
}

impl<T: Pod, S: ByteSample> SliceSample<T, S> {
    /// Wraps a byte sample of a whole number of `T`s (checked with [`fits`]).
    pub(crate) fn new(inner: S) -> Self {
        SliceSample {
            inner,
            _t: PhantomData,
        }
    }
}

/// Copies a byte sample of one `T` (checked with [`fits`]) into `value`, without making a
/// reference to shared memory.
pub(crate) fn copy_value<T: Pod, S: ByteSample>(sample: S, value: &mut T) {
    sample.copy_to(bytemuck::bytes_of_mut(value));
}

/// Copies a byte sample of a whole number of `T`s (checked with [`fits`]) into `buf`
/// (cleared first), without making a reference to shared memory; returns the number of
/// values.
pub(crate) fn copy_slice<T: Pod, S: ByteSample>(sample: S, buf: &mut Vec<T>) -> usize {
    let n = sample.len() / size_of::<T>();
    buf.clear();
    buf.resize(n, T::zeroed());
    sample.copy_to(bytemuck::cast_slice_mut(buf));
    n
}

impl<T: Pod, S: ByteSample> Deref for Sample<T, S> {
    type Target = T;
    fn deref(&self) -> &T {
        // One `T` (checked by the receiving side's `next`) at an `S::ALIGN`-aligned payload,
        // `align_of::<T>() <= S::ALIGN` (`Fits`): cannot fail.
        bytemuck::from_bytes(&self.inner)
    }
}

impl<T: Pod, S: ByteSample> Deref for SliceSample<T, S> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // A whole number of `T`s (checked by the receiving side's `next`), `S::ALIGN`-aligned:
        // cannot fail.
        bytemuck::cast_slice(&self.inner)
    }
}

impl<T: Pod + fmt::Debug, S: ByteSample> fmt::Debug for Sample<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Pod + fmt::Debug, S: ByteSample> fmt::Debug for SliceSample<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
