//! What the options of every typed kind share: [`typed_options!`] writes it once for
//! [`channel::typed::Options`](super::typed::Options) and
//! [`broadcast::typed::Options`](super::broadcast::typed::Options).
//!
//! A macro, as [`creation_setters!`](crate::object) is for the byte kinds' options: builder
//! setters return `&mut Self` so that calls chain into `create`/`subscribe`, which a shared
//! inner type reached through `Deref` cannot do (it would return itself), and a trait would
//! have every caller import it.

/// `Clone`, `Debug`, the setters that forward to the byte options or set the tag, and
/// `layout`, for a struct `Options<T> { base, tag: Option<String>, _t: PhantomData<_> }` in
/// the invoking module, whose parent module's `Options` are the byte options `base` holds.
macro_rules! typed_options {
    () => {
        impl<T> Clone for Options<T> {
            fn clone(&self) -> Self {
                Options {
                    base: self.base.clone(),
                    tag: self.tag.clone(),
                    _t: std::marker::PhantomData,
                }
            }
        }

        impl<T> std::fmt::Debug for Options<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("Options")
                    .field("base", &self.base)
                    .field("tag", &self.tag)
                    .field("type", &std::any::type_name::<T>())
                    .finish()
            }
        }

        impl<T: bytemuck::Pod> Options<T> {
            /// How the returned side waits (default
            /// [`WaitStrategy::Adaptive`](crate::channel::WaitStrategy::Adaptive)).
            pub fn wait_strategy(&mut self, wait: $crate::channel::WaitStrategy) -> &mut Self {
                self.base.wait_strategy(wait);
                self
            }

            /// Unix permission bits of the segment, if this call creates it (default
            /// `0o600`); as the byte options' [`mode`](super::Options::mode).
            pub fn mode(&mut self, mode: u32) -> &mut Self {
                self.base.mode(mode);
                self
            }

            /// Whether the creator (a broadcast's publisher) leaves the name in place when
            /// dropped (default: it removes it); as the byte options'
            /// [`keep`](super::Options::keep).
            pub fn keep(&mut self, keep: bool) -> &mut Self {
                self.base.keep(keep);
                self
            }

            /// How long the open verbs wait for the channel to appear; as the byte options'
            /// [`open_timeout`](super::Options::open_timeout).
            pub fn open_timeout(&mut self, timeout: std::time::Duration) -> &mut Self {
                self.base.open_timeout(timeout);
                self
            }

            /// A name (and version) for the message type's layout, part of its fingerprint:
            /// every side (both ends of a channel; a broadcast's publisher and every
            /// subscriber) must give the same tag. Default: none, so only size and alignment
            /// are checked. Any length; the first 47 bytes are kept in the segment for error
            /// messages.
            pub fn tag(&mut self, tag: &str) -> &mut Self {
                self.tag = Some(tag.to_owned());
                self
            }

            fn layout(&self) -> $crate::channel::message_layout::MessageLayout {
                $crate::channel::message_layout::MessageLayout::of::<T>(self.tag.as_deref())
            }
        }
    };
}
pub(crate) use typed_options;
