//! What the blocking (`pyro-transport-std`) and async (`pyro-transport-smol`)
//! adapters share that is neither protocol logic (that lives in `pyro-proto`)
//! nor I/O: the errors of a proxy call, so both adapters report the same
//! failures with the same Pyro4-style texts (each adapter re-exports them),
//! and the options, defaults and helpers of their daemons and proxies, so
//! both are configured alike and the two stay in step.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod daemon;
mod error;
pub mod proxy;
pub mod stream;

pub use error::{Phase, ProxyError};

/// Re-exported for the builder macros, which name them from the adapters.
#[doc(hidden)]
pub use pyro_proto::{
    serialize::SerializerId,
    value::{ClassRegistry, Value},
};
