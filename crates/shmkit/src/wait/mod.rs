//! How everything in shmkit waits (module docs follow in a later commit).

pub(crate) mod notifier;
pub(crate) mod state_bell;
pub(crate) mod until;
