//! What the blocking (`pyro-transport-std`) and async (`pyro-transport-smol`)
//! adapters share that is neither protocol logic (that lives in `pyro-proto`)
//! nor I/O: the errors of a proxy call, so both adapters report the same
//! failures with the same Pyro4-style texts. Each adapter re-exports them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;

pub use error::{Phase, ProxyError};
