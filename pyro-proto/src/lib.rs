//! Sans-IO core of a Pyro4 (wire protocol 48) implementation.
//!
//! Everything that decides what goes on the wire lives here, so that a blocking
//! adapter, an async adapter and an embedded host all speak exactly the same
//! protocol. Nothing in this crate opens a socket, spawns a thread or reads a
//! clock: bytes and time are handed in by the caller.
//!
//! The crate is `#![no_std]` with `alloc` at its core: framing, HMAC, URIs, all
//! four serializers, both sessions and the daemon core work without the
//! standard library. The default `std` feature adds what genuinely needs it:
//! std error impls of dependencies and the name server's lock and regex filters.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod daemon;
pub mod entropy;
pub mod message;
pub mod naming;
pub mod serialize;
pub mod servant;
pub mod session;
pub mod uri;
pub mod value;

pub use message::{Flags, Message, MessageType};
pub use serialize::{Call, SerializeError, SerializerId};
pub use uri::{Uri, UriError};
pub use value::{Dict, Value};
