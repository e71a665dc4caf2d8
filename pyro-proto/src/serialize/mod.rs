//! The four Pyro4 serializers and the call tuple they carry.

use alloc::string::String;

use crate::value::{Dict, Value};

pub mod json;
pub mod marshal;
#[cfg(feature = "std")]
pub mod pickle;
pub mod serpent;

/// How deep containers may nest in anything we decode. A deeper input is an
/// error value, never a stack overflow.
pub const MAX_DEPTH: usize = 256;

/// Serializer ids as they appear in the message header (they never change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum SerializerId {
    /// serpent: Python literal text, Pyro4's default.
    Serpent = 1,
    /// json as Python's `json` module writes it.
    Json = 2,
    /// CPython `marshal`, version 4.
    Marshal = 3,
    /// Python `pickle`.
    Pickle = 4,
}

/// A remote call as it travels in an INVOKE payload: `(object, method, vargs, kwargs)`.
#[derive(Debug, Clone)]
pub struct Call {
    /// Target object id, e.g. `test.obj` or `Pyro.Daemon`.
    pub object: String,
    /// Method name, or `__getattr__`, `__setattr__`, `<batch>`.
    pub method: String,
    /// Positional arguments: a [`Value::Tuple`] for ordinary calls, a
    /// [`Value::List`] for Pyro-internal ones (serpent keeps the difference).
    pub vargs: Value,
    /// Keyword arguments; `None` for attribute access and batches.
    pub kwargs: Option<Dict>,
}

/// Why a payload could not be written or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SerializeError {
    /// The bytes are not valid in the named format.
    #[error("malformed {codec} data at byte {offset}: {reason}")]
    Malformed {
        /// Which codec.
        codec: &'static str,
        /// Byte offset of the problem in the payload.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// The format has no way to carry this value (as Python's serializer would refuse it).
    #[error("{codec} cannot serialize {what}")]
    Unsupported {
        /// Which codec.
        codec: &'static str,
        /// The offending value's description.
        what: String,
    },
    /// Containers nest deeper than [`MAX_DEPTH`].
    #[error("data nests deeper than {limit} levels")]
    TooDeep {
        /// The limit that was hit.
        limit: usize,
    },
    /// A `__class__` name Pyro4 does not know how to rebuild.
    #[error("unsupported serialized class: {0}")]
    UnknownClass(String),
    /// A `__class__` name containing `__`, refused as Pyro4 refuses it.
    #[error("refused to deserialize types with double underscores in their name: {0}")]
    DunderClass(String),
    /// The payload decoded, but is not a Pyro call tuple.
    #[error("invalid call payload: {0}")]
    BadCall(String),
    /// A serializer id we do not implement.
    #[error("no serializer available for id {0}")]
    UnknownSerializer(u16),
    /// Converting between a Rust type and a [`Value`] failed.
    #[error("value conversion failed: {0}")]
    Conversion(String),
}
