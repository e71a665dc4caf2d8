//! Blocking adapter for `pyro-proto`: moves bytes between std sockets and the
//! Sans-IO sessions, and owns the clock. Protocol logic lives in `pyro-proto`.
//!
//! The `Proxy` and `Daemon` types arrive with the blocking-transport issue.
#![forbid(unsafe_code)]

pub use pyro_proto;
