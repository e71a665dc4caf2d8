//! Async adapter for `pyro-proto` on smol / async-io: moves bytes between async
//! sockets and the Sans-IO sessions, and owns the timers. Protocol logic lives
//! in `pyro-proto`.
#![forbid(unsafe_code)]

pub use pyro_proto;
pub use smol;
