//! The four Pyro4 serializers and the call tuple they carry.

use alloc::string::String;
use alloc::vec::Vec;

use crate::value::{classes, ClassRegistry, Dict, PyStr, Value};

pub mod json;
mod keys;
pub mod marshal;
pub mod pickle;
pub mod serpent;

/// Run `write`, which appends to `out`; if it fails, cut `out` back to its
/// length on entry, so a caller's reused buffer never keeps half a payload.
#[inline(always)]
pub(crate) fn append_or_rollback(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), SerializeError>,
) -> Result<(), SerializeError> {
    let start = out.len();
    let result = write(out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Make room for `additional` more bytes in `out`. An empty, unallocated
/// buffer (what the `dumps` wrappers pass) gets one allocation of exactly
/// that size, which is cheaper than `Vec::reserve`'s growth path; a reused
/// buffer usually has the room already.
#[inline(always)]
pub(crate) fn reserve(out: &mut Vec<u8>, additional: usize) {
    if out.capacity() == 0 {
        *out = Vec::with_capacity(additional);
    } else {
        out.reserve(additional);
    }
}

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

impl SerializerId {
    /// Every serializer this build can speak, in id order.
    pub const ALL: &'static [SerializerId] = &[
        SerializerId::Serpent,
        SerializerId::Json,
        SerializerId::Marshal,
        SerializerId::Pickle,
    ];

    /// The serializer for a header's serializer id.
    pub fn from_id(id: u16) -> Result<SerializerId, SerializeError> {
        match id {
            1 => Ok(SerializerId::Serpent),
            2 => Ok(SerializerId::Json),
            3 => Ok(SerializerId::Marshal),
            4 => Ok(SerializerId::Pickle),
            other => Err(SerializeError::UnknownSerializer(other)),
        }
    }

    /// The id written into message headers.
    pub fn id(self) -> u16 {
        self as u16
    }

    /// The name Pyro4 uses for it in configuration (`SERIALIZER = "serpent"`).
    pub fn name(self) -> &'static str {
        match self {
            SerializerId::Serpent => "serpent",
            SerializerId::Json => "json",
            SerializerId::Marshal => "marshal",
            SerializerId::Pickle => "pickle",
        }
    }

    /// The serializer Pyro4 calls `name` (case-sensitive, as in Pyro4's config).
    pub fn from_name(name: &str) -> Option<SerializerId> {
        SerializerId::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// Encode a value in this format.
    pub fn dumps(self, value: &Value) -> Result<Vec<u8>, SerializeError> {
        let mut out = Vec::new();
        self.dumps_into(value, &mut out)?;
        Ok(out)
    }

    /// Encode a value in this format, appending it to `out` (a buffer the
    /// caller reuses, so that steady traffic costs no allocation per
    /// message). On error `out` is cut back to its length on entry.
    pub fn dumps_into(self, value: &Value, out: &mut Vec<u8>) -> Result<(), SerializeError> {
        match self {
            SerializerId::Serpent => serpent::dumps_into(value, out),
            SerializerId::Json => json::dumps_into(value, out),
            SerializerId::Marshal => marshal::dumps_into(value, out),
            SerializerId::Pickle => pickle::dumps_into(value, out),
        }
    }

    /// Decode a value in this format and rebuild its class objects as Pyro4
    /// does (`recreate_classes`: exceptions, URIs, proxies, ...; unknown
    /// `__class__` dicts are refused). See [`crate::value::classes`].
    pub fn loads(self, data: &[u8]) -> Result<Value, SerializeError> {
        self.loads_with(data, None)
    }

    /// [`loads`](Self::loads) that also accepts the application's registered classes.
    pub fn loads_with(
        self,
        data: &[u8],
        registry: Option<&ClassRegistry>,
    ) -> Result<Value, SerializeError> {
        classes::recreate(self.loads_raw(data)?, self, registry)
    }

    /// Decode a value in this format without the class step: `__class__`
    /// dicts stay plain dicts (for gateways, tests and diagnostics).
    pub fn loads_raw(self, data: &[u8]) -> Result<Value, SerializeError> {
        match self {
            SerializerId::Serpent => serpent::loads(data),
            SerializerId::Json => json::loads(data),
            SerializerId::Marshal => marshal::loads(data),
            SerializerId::Pickle => pickle::loads(data),
        }
    }

    /// Encode a call tuple in this format.
    pub fn dumps_call(self, call: &Call) -> Result<Vec<u8>, SerializeError> {
        let mut out = Vec::new();
        self.dumps_call_into(call, &mut out)?;
        Ok(out)
    }

    /// Encode a call tuple in this format, appending it to `out` (see
    /// [`dumps_into`](Self::dumps_into)). On error `out` is cut back to its
    /// length on entry.
    pub fn dumps_call_into(self, call: &Call, out: &mut Vec<u8>) -> Result<(), SerializeError> {
        match self {
            SerializerId::Serpent => serpent::dumps_call_into(call, out),
            SerializerId::Json => json::dumps_call_into(call, out),
            SerializerId::Marshal => marshal::dumps_call_into(call, out),
            SerializerId::Pickle => pickle::dumps_call_into(call, out),
        }
    }

    /// Decode a call tuple in this format, rebuilding class objects in
    /// `vargs` and `kwargs` as Pyro4's `loadsCall` does.
    pub fn loads_call(self, data: &[u8]) -> Result<Call, SerializeError> {
        self.loads_call_with(data, None)
    }

    /// [`loads_call`](Self::loads_call) that also accepts the application's registered classes.
    pub fn loads_call_with(
        self,
        data: &[u8],
        registry: Option<&ClassRegistry>,
    ) -> Result<Call, SerializeError> {
        // The marshal and json readers note whether the class step has
        // anything to do (a `__class__` key, deep nesting); usually it has not.
        let (mut call, class_step) = match self {
            // Pickle builds its class values itself (recreate leaves them as they are).
            SerializerId::Pickle => return pickle::loads_call(data),
            SerializerId::Marshal => marshal::loads_call_noting_classes(data)?,
            SerializerId::Json => json::loads_call_noting_classes(data)?,
            SerializerId::Serpent => (serpent::loads_call(data)?, true),
        };
        if !class_step {
            return Ok(call);
        }
        call.vargs = classes::recreate(call.vargs, self, registry)?;
        if let Some(kwargs) = call.kwargs.take() {
            match classes::recreate(Value::Dict(kwargs), self, registry)? {
                Value::Dict(d) => call.kwargs = Some(d),
                // A kwargs dict that is itself a class dict: Pyro4 would pass
                // the object as **kwargs and fail; refuse it here.
                other => {
                    return Err(SerializeError::BadCall(alloc::format!(
                        "kwargs must be a dict, found {}",
                        other.type_name()
                    )))
                }
            }
        }
        Ok(call)
    }

    /// Decode a call tuple without the class step.
    pub fn loads_call_raw(self, data: &[u8]) -> Result<Call, SerializeError> {
        match self {
            SerializerId::Serpent => serpent::loads_call(data),
            SerializerId::Json => json::loads_call(data),
            SerializerId::Marshal => marshal::loads_call(data),
            SerializerId::Pickle => pickle::loads_call(data),
        }
    }
}

/// Whether a container read at `depth` (containers around it) is close
/// enough to [`MAX_DEPTH`] that [`classes::recreate`]'s own depth check could
/// refuse the result: readers that let `loads_call` skip the class step
/// report it then (with a margin, so the codecs' depth conventions need not
/// match recreate's exactly).
#[inline]
pub(crate) fn near_depth_limit(depth: usize) -> bool {
    depth + 2 >= MAX_DEPTH
}

/// A remote call as it travels in an INVOKE payload: `(object, method, vargs, kwargs)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Target object id, e.g. `test.obj` or `Pyro.Daemon`.
    pub object: PyStr,
    /// Method name, or `__getattr__`, `__setattr__`, `<batch>`.
    pub method: PyStr,
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
    /// Pyro4 refuses this value with exactly this message (the text of its
    /// `SerializeError`), so a daemon can send it back as Python would.
    #[error("{message}")]
    Refused {
        /// Which codec.
        codec: &'static str,
        /// Pyro4's message.
        message: String,
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod into_tests;
